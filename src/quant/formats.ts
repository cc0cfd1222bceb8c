import { f16BitsToF32, f32ToF16Bits } from '../util/f16.js';

/**
 * Weight formats as GGUF/ggml store them on disk ("native" bytes):
 *  - f32: little-endian floats
 *  - f16: little-endian IEEE halves
 *  - q8_0: blocks of 32 values, 34 bytes: f16 scale d, then 32 int8 q; x = d * q
 *  - q4_0: blocks of 32 values, 18 bytes: f16 scale d, then 16 bytes where byte j holds
 *          element j in its low nibble and element j+16 in its high nibble; x = d * (nibble - 8)
 */
export type WeightFormat = 'f32' | 'f16' | 'q8_0' | 'q4_0';

export const QK = 32;

/**
 * How llama.cpp's CPU backend quantizes the activations before a dot product with a quantized
 * weight matrix (ggml's `vec_dot_type` of the weight's type): 'q8_0' for Q4_0, Q5_0, Q8_0 and
 * IQ4_NL, and for Q4_1/Q5_1 (whose Q8_1 holds the same values plus a block sum); 'q8_K' for the
 * k-quants Q2_K..Q6_K and IQ4_XS. See reference/act-quant.ts for the arithmetic.
 */
export type ActQuant = 'q8_0' | 'q8_K';

/** Values per activation block. */
export const ACT_BLOCK: Readonly<Record<ActQuant, number>> = { q8_0: 32, q8_K: 256 };
export const BLOCK_BYTES = { q8_0: 34, q4_0: 18 } as const;

export function isQuantized(f: WeightFormat): f is 'q8_0' | 'q4_0' {
  return f === 'q8_0' || f === 'q4_0';
}

/** Bytes a [rows, cols] tensor takes in native (GGUF) layout. */
export function nativeByteLength(format: WeightFormat, rows: number, cols: number): number {
  switch (format) {
    case 'f32':
      return rows * cols * 4;
    case 'f16':
      return rows * cols * 2;
    case 'q8_0':
    case 'q4_0':
      return rows * (cols / QK) * BLOCK_BYTES[format];
  }
}

/** Dequantize native bytes of `count` values (count a multiple of 32 for q formats). */
export function dequantize(format: WeightFormat, src: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  switch (format) {
    case 'f32':
      for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
      break;
    case 'f16':
      for (let i = 0; i < count; i++) out[i] = f16BitsToF32(dv.getUint16(i * 2, true));
      break;
    case 'q8_0':
      for (let b = 0; b < count / QK; b++) {
        const o = b * 34;
        const d = f16BitsToF32(dv.getUint16(o, true));
        for (let j = 0; j < QK; j++) out[b * QK + j] = d * dv.getInt8(o + 2 + j);
      }
      break;
    case 'q4_0':
      for (let b = 0; b < count / QK; b++) {
        const o = b * 18;
        const d = f16BitsToF32(dv.getUint16(o, true));
        for (let j = 0; j < 16; j++) {
          const byte = src[o + 2 + j]!;
          out[b * QK + j] = d * ((byte & 0x0f) - 8);
          out[b * QK + j + 16] = d * ((byte >> 4) - 8);
        }
      }
      break;
  }
  return out;
}

/** Quantize floats to native bytes, exactly as ggml's reference quantizers do. */
export function quantize(format: WeightFormat, x: Float32Array): Uint8Array {
  switch (format) {
    case 'f32':
      return new Uint8Array(new Float32Array(x).buffer);
    case 'f16': {
      const h = new Uint16Array(x.length);
      for (let i = 0; i < x.length; i++) h[i] = f32ToF16Bits(x[i]!);
      return new Uint8Array(h.buffer);
    }
    case 'q8_0':
      return quantizeQ8_0(x);
    case 'q4_0':
      return quantizeQ4_0(x);
  }
}

function quantizeQ8_0(x: Float32Array): Uint8Array {
  if (x.length % QK) throw new Error(`q8_0 needs a multiple of ${QK} values, got ${x.length}`);
  const nb = x.length / QK;
  const out = new Uint8Array(nb * 34);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[b * QK + j]!));
    const d = amax / 127;
    const id = d ? 1 / d : 0;
    dv.setUint16(b * 34, f32ToF16Bits(d), true);
    for (let j = 0; j < QK; j++) dv.setInt8(b * 34 + 2 + j, Math.round(x[b * QK + j]! * id));
  }
  return out;
}

function quantizeQ4_0(x: Float32Array): Uint8Array {
  if (x.length % QK) throw new Error(`q4_0 needs a multiple of ${QK} values, got ${x.length}`);
  const nb = x.length / QK;
  const out = new Uint8Array(nb * 18);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[b * QK + j]!;
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = max / -8;
    const id = d ? 1 / d : 0;
    dv.setUint16(b * 18, f32ToF16Bits(d), true);
    for (let j = 0; j < 16; j++) {
      const x0 = Math.min(15, Math.trunc(x[b * QK + j]! * id + 8.5));
      const x1 = Math.min(15, Math.trunc(x[b * QK + j + 16]! * id + 8.5));
      out[b * 18 + 2 + j] = x0 | (x1 << 4);
    }
  }
  return out;
}
