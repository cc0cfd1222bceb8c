import { check } from '../errors.js';

/**
 * How a model stretches RoPE beyond its training context, as Hugging Face's `rope_scaling`
 * describes it. Both only change the inverse-frequency table, so the kernels never see them.
 */
export type RopeScaling =
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number }
  | { type: 'linear'; factor: number };

/**
 * Inverse frequencies theta^(-2i/rotaryDim), i < rotaryDim/2, with optional scaling.
 * Plain TS (no GPU) so model configuration code can build the table anywhere.
 */
export function ropeInvFreq(rotaryDim: number, theta: number, scaling?: RopeScaling | null): Float32Array {
  check(Number.isInteger(rotaryDim) && rotaryDim > 0 && rotaryDim % 2 === 0, `RoPE rotary dimension must be a positive even integer, got ${rotaryDim}.`);
  check(theta > 0, `RoPE theta must be positive, got ${theta}.`);
  const half = rotaryDim / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const f = 1 / theta ** ((2 * i) / rotaryDim);
    out[i] = scaling ? scaleFreq(f, scaling) : f;
  }
  return out;
}

function scaleFreq(f: number, s: RopeScaling): number {
  check(s.factor > 0, `RoPE scaling factor must be positive, got ${s.factor}.`);
  if (s.type === 'linear') return f / s.factor;
  // Llama 3.1: long wavelengths (low frequencies) are slowed by `factor`, short ones kept, and
  // the band between blends the two linearly in (context / wavelength).
  check(s.highFreqFactor > s.lowFreqFactor, 'Llama 3 RoPE scaling needs high_freq_factor > low_freq_factor.');
  const ctx = s.originalMaxPositionEmbeddings;
  const wavelen = (2 * Math.PI) / f;
  if (wavelen < ctx / s.highFreqFactor) return f;
  if (wavelen > ctx / s.lowFreqFactor) return f / s.factor;
  const smooth = (ctx / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
  return (1 - smooth) * (f / s.factor) + smooth * f;
}
