/**
 * Benchmark data, fast and deterministic. Speed does not depend on the values (as long as they
 * are finite and not denormal), so quantized blocks are written directly as random codes with
 * one plausible scale instead of quantizing random floats: that keeps JS out of the way of
 * lm_head-sized matrices.
 */
import { BLOCK_BYTES, QK, nativeByteLength, quantize, type WeightFormat } from '../../src/quant/formats.js';

/** Fills `out` with random bytes from a 32-bit LCG; cheap, and the same for the same seed. */
export function randomBytes(out: Uint8Array, seed = 12345): Uint8Array {
  const words = new Uint32Array(out.buffer, out.byteOffset, out.byteLength >> 2);
  let s = seed >>> 0;
  for (let i = 0; i < words.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    words[i] = s;
  }
  for (let i = words.length * 4; i < out.byteLength; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

/** Uniform floats in [-scale, scale). */
export function randomF32(n: number, seed = 12345, scale = 1): Float32Array<ArrayBuffer> {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 31 - 1) * scale;
  }
  return out;
}

/** Random f16 bits in [-2^-3, 2^-3): exponents 8..11, any mantissa, either sign. */
export function randomF16Bits(n: number, seed = 12345): Uint16Array<ArrayBuffer> {
  const out = new Uint16Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >>> 31) << 15 | (8 + ((s >>> 10) & 3)) << 10 | (s & 0x3ff);
  }
  return out;
}

const SCALE_F16 = 0x2000; // 2^-7: codes times this stay small

/** Native (GGUF) bytes of a [rows, cols] matrix of random values in `format`. */
export function randomNative(format: WeightFormat, rows: number, cols: number, seed = 12345): Uint8Array {
  const bytes = nativeByteLength(format, rows, cols);
  if (format === 'f32') return new Uint8Array(randomF32(rows * cols, seed, 0.05).buffer);
  if (format === 'f16') return new Uint8Array(randomF16Bits(rows * cols, seed).buffer);
  // formats with a min or sub-block scales: quantized from random values, so every field is valid
  if (format !== 'q8_0' && format !== 'q4_0') return quantize(format, randomF32(rows * cols, seed, 0.05));
  const out = randomBytes(new Uint8Array(bytes), seed);
  const bb = BLOCK_BYTES[format];
  for (let o = 0; o < bytes; o += bb) {
    out[o] = SCALE_F16 & 0xff;
    out[o + 1] = SCALE_F16 >> 8;
  }
  return out;
}

/** Blocks of 32 along a row: the unit both q4_0 and MatMulNBits(block_size 32) quantize. */
export const BLOCK = QK;
