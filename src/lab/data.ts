import { f32ToF16Bits } from '../util/f16.js';
import { BLOCK_BYTES, QK, nativeByteLength, type WeightFormat } from '../quant/formats.js';

/** xorshift32: fast and deterministic; test data need not be good random numbers. */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** n floats uniform in [-scale, scale). */
export function randomF32(n: number, seed: number, scale = 1): Float32Array {
  const next = prng(seed);
  const out = new Float32Array(n);
  const k = (2 * scale) / 2 ** 32;
  for (let i = 0; i < n; i++) out[i] = next() * k - scale;
  return out;
}

/** n random u32 below `bound`. */
export function randomIds(n: number, bound: number, seed: number): Uint32Array {
  const next = prng(seed);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = next() % bound;
  return out;
}

/**
 * A random [rows, cols] weight straight in its native (GGUF) bytes. Building the bytes directly,
 * rather than quantizing random floats, keeps a 100 MB matrix to a fraction of a second; the
 * reference dequantizes the same bytes, so the check is exact either way.
 */
export function randomNativeWeight(format: WeightFormat, rows: number, cols: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(nativeByteLength(format, rows, cols));
  const next = prng(seed);
  if (format === 'f32') {
    bytes.set(new Uint8Array(randomF32(rows * cols, seed).buffer));
    return bytes;
  }
  if (format === 'f16') {
    // sign, exponent 10..14 and any mantissa: |x| in [2^-5, 1), never inf or NaN
    const h = new Uint16Array(bytes.buffer);
    for (let i = 0; i < h.length; i++) {
      const r = next();
      h[i] = ((r >>> 31) << 15) | ((10 + ((r >>> 10) % 5)) << 10) | (r & 0x3ff);
    }
    return bytes;
  }
  // quants: random bytes; scales: a few f16 values near 1/127 (q8_0) or 1/8 (q4_0) so |x| stays below ~1
  const block = BLOCK_BYTES[format];
  const base = format === 'q8_0' ? 1 / 127 : 1 / 8;
  const scales = [0.5, 0.75, 1, 1.25].map((f) => f32ToF16Bits(base * f));
  const words = new Uint32Array(bytes.buffer, 0, bytes.length >>> 2);
  for (let i = 0; i < words.length; i++) words[i] = next();
  const nb = (rows * cols) / QK;
  for (let b = 0; b < nb; b++) {
    const s = scales[next() & 3]!;
    bytes[b * block] = s & 0xff;
    bytes[b * block + 1] = s >>> 8;
  }
  return bytes;
}

/**
 * Up to `count` distinct indices in [0, total), deterministic: one in each of `count` equal
 * strides (at a seeded offset within it), always including the first and the last, so ragged
 * edges and tile boundaries get checked along with the middle.
 */
export function sampleIndices(total: number, count: number, seed: number): number[] {
  if (total <= count) return Array.from({ length: total }, (_, i) => i);
  const next = prng(seed);
  const out = new Set<number>([0, total - 1]);
  const stride = total / count;
  for (let i = 0; out.size < count && i < count; i++) out.add(Math.min(total - 1, Math.floor(i * stride + (next() / 2 ** 32) * stride)));
  return [...out].sort((a, b) => a - b);
}
