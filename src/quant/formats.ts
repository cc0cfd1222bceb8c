/**
 * The registry of weight formats the GPU kernels read as stored, one module each (f32.ts ...
 * q6_k.ts, see spec.ts for what a format holds), and the CPU (de)quantization of every ggml block
 * type GGUF files hold: the registry's own and the ones widened at load (widened.ts).
 */
import type { GgmlConvertedType } from '../formats/ggml-quants.js';
import { f16 } from './f16.js';
import { f32 } from './f32.js';
import { q4_0 } from './q4_0.js';
import { q4_1 } from './q4_1.js';
import { q4_k } from './q4_k.js';
import { q5_0 } from './q5_0.js';
import { q5_k } from './q5_k.js';
import { q6_k } from './q6_k.js';
import { q8_0 } from './q8_0.js';
import type { FormatSpec, WeightFormat } from './spec.js';
import { blocksOf, isWidenedType, WIDENED_DEQUANT } from './widened.js';

export type { FormatSpec, WeightFormat } from './spec.js';

export const FORMATS: Readonly<Record<WeightFormat, FormatSpec>> = { f32, f16, q8_0, q4_0, q4_1, q5_0, q4_k, q5_k, q6_k };

export const WEIGHT_FORMATS = Object.keys(FORMATS) as WeightFormat[];

export function formatSpec(f: WeightFormat): FormatSpec {
  return FORMATS[f];
}

/** The format that holds a ggml tensor type as stored, or null where it is widened at load. */
export function formatOfGgml(dtype: string): WeightFormat | null {
  for (const f of WEIGHT_FORMATS) if (FORMATS[f].ggml === dtype) return f;
  return null;
}

/** Values per block of the q8_0/q4_0 formats (and of the 32-value activation blocks). */
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

/** Native bytes per block. */
export const BLOCK_BYTES: Readonly<Record<WeightFormat, number>> = Object.fromEntries(WEIGHT_FORMATS.map((f) => [f, FORMATS[f].bytes])) as Record<WeightFormat, number>;

/** A block format (not f32 or f16). */
export function isQuantized(f: WeightFormat): boolean {
  return FORMATS[f].block > 1;
}

/** Bytes a [rows, cols] tensor takes in native (GGUF) layout. */
export function nativeByteLength(format: WeightFormat, rows: number, cols: number): number {
  const s = FORMATS[format];
  return rows * (cols / s.block) * s.bytes;
}

/** Dequantize native bytes of `count` values (count a whole number of blocks). */
export function dequantize(format: WeightFormat, src: Uint8Array, count: number): Float32Array {
  const s = FORMATS[format];
  if (count % s.block) throw new Error(`${format} needs a multiple of ${s.block} values, got ${count}`);
  const out = new Float32Array(count);
  s.dequantize(src, new DataView(src.buffer, src.byteOffset, src.byteLength), out, count / s.block);
  return out;
}

/**
 * Quantize floats to native bytes: q8_0 and q4_0 exactly as ggml's reference quantizers do; the
 * others from each block's (or sub-block's) range, without llama.cpp's error search.
 */
export function quantize(format: WeightFormat, x: Float32Array): Uint8Array {
  const s = FORMATS[format];
  if (x.length % s.block) throw new Error(`${format} needs a multiple of ${s.block} values, got ${x.length}`);
  const out = new Uint8Array((x.length / s.block) * s.bytes);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < x.length / s.block; b++) s.quantizeBlock(x, b * s.block, dv, b * s.bytes, out);
  return out;
}

/** `count` values of a ggml block type from its native bytes (count a whole number of blocks). */
export function dequantizeGgml(type: GgmlConvertedType, src: Uint8Array, count: number): Float32Array {
  const blocks = blocksOf(type, src, count);
  if (!isWidenedType(type)) return dequantize(formatOfGgml(type)!, src, count);
  const out = new Float32Array(count);
  WIDENED_DEQUANT[type](src, new DataView(src.buffer, src.byteOffset, src.byteLength), out, blocks);
  return out;
}
