import type { ModelConfig } from '../formats/config.js';
import { ropeInvFreq } from '../kernels/rope-freq.js';

/**
 * The model's RoPE inverse frequencies: theta^(-2i/rotaryDim), scaled as its config says —
 * by rope_scaling (Hugging Face) or by the per-frequency divisors of a GGUF rope_freqs tensor
 * (how llama.cpp stores Llama 3 scaling).
 */
export function modelInvFreq(c: ModelConfig): Float32Array {
  const f = ropeInvFreq(c.rotaryDim, c.ropeTheta, c.ropeScaling);
  if (c.ropeFreqFactors) for (let i = 0; i < f.length; i++) f[i] = f[i]! / c.ropeFreqFactors[i]!;
  return f;
}

/** The sliding-window layers' inverse frequencies (Gemma 3): their own base, no scaling. */
export function localInvFreq(c: ModelConfig): Float32Array {
  return ropeInvFreq(c.rotaryDim, c.ropeLocalTheta ?? c.ropeTheta, null);
}
