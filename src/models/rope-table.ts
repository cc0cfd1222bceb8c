import type { ModelConfig } from '../formats/config.js';
import { ropeInvFreq } from '../kernels/rope-freq.js';

/**
 * Which LongRoPE factor list a context of `contextLength` tokens uses: the long one once it
 * exceeds the original training context (llama.cpp's choice, by context size; Hugging Face
 * switches by the current sequence length instead, which agrees whenever the sequence fills the
 * context). null: the model has no LongRoPE.
 */
export function longRopeFactors(c: Pick<ModelConfig, 'ropeScaling'>, contextLength: number): 'long' | 'short' | null {
  const s = c.ropeScaling;
  if (s?.type !== 'longrope') return null;
  return contextLength > s.originalMaxPositionEmbeddings ? 'long' : 'short';
}

/**
 * The model's RoPE inverse frequencies: theta^(-2i/rotaryDim), scaled as its config says —
 * by rope_scaling (Hugging Face), by the per-frequency divisors of a GGUF rope_freqs tensor
 * (how llama.cpp stores Llama 3 scaling), or by LongRoPE's short or long divisors, picked by the
 * context length the KV cache is built for.
 */
export function modelInvFreq(c: ModelConfig, contextLength: number): Float32Array {
  const s = c.ropeScaling;
  if (s?.type === 'longrope') {
    const factors = longRopeFactors(c, contextLength) === 'long' ? s.longFactor : s.shortFactor;
    const f = ropeInvFreq(c.rotaryDim, c.ropeTheta, null);
    for (let i = 0; i < f.length; i++) f[i] = f[i]! / factors[i]!;
    return f;
  }
  const f = ropeInvFreq(c.rotaryDim, c.ropeTheta, s);
  if (c.ropeFreqFactors) for (let i = 0; i < f.length; i++) f[i] = f[i]! / c.ropeFreqFactors[i]!;
  return f;
}

/** The sliding-window layers' inverse frequencies (Gemma 3): their own base, no scaling. */
export function localInvFreq(c: ModelConfig): Float32Array {
  return ropeInvFreq(c.rotaryDim, c.ropeLocalTheta ?? c.ropeTheta, null);
}
