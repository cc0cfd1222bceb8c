import { dequantize, nativeByteLength, type WeightFormat } from '../quant/formats.js';

/**
 * Rows `ids` of an embedding table [rows, cols] given in native (GGUF) bytes, dequantized and
 * multiplied by `scale`. Ids past the table give zero rows, as the kernel does. The product is
 * taken in f32 with the scale rounded to f32 (Gemma's sqrt(hidden), as llama.cpp computes it), the
 * f64 product of two f32 values being exact before its one rounding.
 */
export function embedRef(format: WeightFormat, native: Uint8Array, rows: number, cols: number, ids: ArrayLike<number>, scale = 1): Float32Array {
  scale = Math.fround(scale);
  const rowBytes = nativeByteLength(format, 1, cols);
  const out = new Float32Array(ids.length * cols);
  for (let m = 0; m < ids.length; m++) {
    const id = ids[m]!;
    if (id >= rows) continue;
    const row = dequantize(format, native.subarray(id * rowBytes, (id + 1) * rowBytes), cols);
    for (let i = 0; i < cols; i++) out[m * cols + i] = row[i]! * scale;
  }
  return out;
}
