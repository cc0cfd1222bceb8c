import { HearthError } from '../errors.js';
import { FORMATS, isQuantized, nativeByteLength, type ActQuant, type WeightFormat } from '../quant/formats.js';
import type { GpuContext } from './device.js';
import { createStorage, roundUp, writeBuffer } from './buffers.js';

/**
 * How a weight matrix [rows, cols] (row-major, [out, in] as Hugging Face stores it) lives on the GPU.
 *
 * `data` holds rows of `strideWords` u32 words each:
 *  - f32:  cols floats, padded with zeros to a multiple of 4 (vec4 loads)
 *  - f16:  cols halves packed two per u32 (low half first), padded to a multiple of 8 halves
 *  - block formats (src/quant/: q8_0, q4_0, q4_1, q5_0, q4_k, q5_k, q6_k): cols / block blocks of
 *    FormatSpec.gpu.words words each, the block's GGUF bytes less its f16 scale where that would
 *    leave the block short of whole words (q8_0, q4_0, q5_0: d at byte 0; q6_k: d at byte 208);
 *    then `scales` holds those scales, one f16 per block, two per u32, indexed
 *    row * (cols / block) + block (part-local rows). Splitting them keeps every load aligned and
 *    the GPU bytes equal to the file's; q4_1, q4_k and q5_k are whole words as stored.
 * A matrix larger than one storage binding is split by rows into parts, each in its own buffers.
 */
export interface WeightPart {
  rowStart: number;
  rows: number;
  data: GPUBuffer;
  scales: GPUBuffer | null;
}

export interface GpuWeight {
  format: WeightFormat;
  rows: number;
  cols: number;
  strideWords: number;
  parts: WeightPart[];
  bytes: number;
  /**
   * How llama.cpp would quantize this matrix's input activations (the vec_dot_type of the ggml
   * type the weights came from; models/load.ts activationQuant), or null for float weights.
   * The forward applies it when the engine was loaded with activations: 'q8'.
   */
  actQuant: ActQuant | null;
}

export function strideWords(format: WeightFormat, cols: number): number {
  const f = FORMATS[format];
  if (format === 'f32') return roundUp(cols, 4);
  if (format === 'f16') return roundUp(cols, 8) / 2;
  return (cols / f.block) * f.gpu.words;
}

/** Bytes a [rows, cols] matrix takes on the GPU in one part (data and scales). */
export function gpuByteLength(format: WeightFormat, rows: number, cols: number): number {
  const f = FORMATS[format];
  const scales = f.gpu.scaleAt === null ? 0 : roundUp(rows * (cols / f.block), 2) * 2;
  return rows * strideWords(format, cols) * 4 + scales;
}

export function checkWeightShape(format: WeightFormat, rows: number, cols: number, name = 'weight'): void {
  if (!(rows > 0 && cols > 0 && Number.isInteger(rows) && Number.isInteger(cols))) {
    throw new HearthError('INVALID_ARGUMENT', `${name} has an invalid shape [${rows}, ${cols}].`);
  }
  const block = FORMATS[format].block;
  if (isQuantized(format) && cols % block !== 0) {
    throw new HearthError('UNSUPPORTED_TENSOR_TYPE', `${name} is ${format} with ${cols} columns, not a multiple of ${block}.`, {
      hint: `${format} needs rows whose length is a multiple of ${block}; use f16 or f32 for this tensor.`,
    });
  }
}

/**
 * Repack `rowCount` rows of native (GGUF) bytes into the GPU layout.
 * `src` starts at the first of those rows.
 */
export function packRows(format: WeightFormat, cols: number, src: Uint8Array, rowCount: number): { data: Uint32Array; scales: Uint32Array | null } {
  const stride = strideWords(format, cols);
  const data = new Uint32Array(rowCount * stride);
  const bytes = new Uint8Array(data.buffer);
  const f = FORMATS[format];
  if (!isQuantized(format)) {
    const rowBytes = cols * f.bytes;
    for (let r = 0; r < rowCount; r++) bytes.set(src.subarray(r * rowBytes, (r + 1) * rowBytes), r * stride * 4);
    return { data, scales: null };
  }
  const blocks = rowCount * (cols / f.block);
  const at = f.gpu.scaleAt;
  if (at === null) {
    bytes.set(src.subarray(0, blocks * f.bytes));
    return { data, scales: null };
  }
  const wordBytes = f.gpu.words * 4;
  const scaleHalves = new Uint16Array(roundUp(blocks, 2));
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let i = 0; i < blocks; i++) {
    const o = i * f.bytes;
    scaleHalves[i] = dv.getUint16(o + at, true);
    bytes.set(src.subarray(o, o + at), i * wordBytes);
    bytes.set(src.subarray(o + at + 2, o + f.bytes), i * wordBytes + at);
    f.gpu.block?.(data, i * f.gpu.words);
  }
  return { data, scales: new Uint32Array(scaleHalves.buffer) };
}

export interface UploadWeightOptions {
  label?: string;
  /** Largest bytes per part buffer; defaults to the device's maxStorageBufferBindingSize. Tests lower it. */
  maxPartBytes?: number;
  /** GpuWeight.actQuant; default null. */
  actQuant?: ActQuant | null;
}

/** Rows per part so that no part buffer exceeds `maxBytes`. */
export function rowsPerPart(format: WeightFormat, cols: number, maxBytes: number): number {
  const rowBytes = strideWords(format, cols) * 4;
  // (a row's split-off scales, 2 bytes per block, are always smaller than its data)
  let rows = Math.floor(maxBytes / rowBytes);
  // keep part boundaries even so the packed f16 scales of a part start on a word
  rows = Math.max(1, rows - (rows % 2));
  return rows;
}

/**
 * Upload a weight matrix given its native bytes (GGUF layout of any format in src/quant/formats.ts).
 * Rows are repacked and uploaded a part at a time, so JS never holds a second full copy.
 */
export function uploadWeight(ctx: GpuContext, format: WeightFormat, rows: number, cols: number, native: Uint8Array, options: UploadWeightOptions = {}): GpuWeight {
  const label = options.label ?? 'weight';
  checkWeightShape(format, rows, cols, label);
  const stride = strideWords(format, cols);
  const maxBytes = Math.min(options.maxPartBytes ?? Infinity, ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
  const perPart = rowsPerPart(format, cols, maxBytes);
  const nativeRowBytes = nativeByteLength(format, 1, cols);
  if (native.byteLength < rows * nativeRowBytes) {
    throw new HearthError('TRUNCATED_FILE', `${label}: expected ${rows * nativeRowBytes} bytes of ${format} data, got ${native.byteLength}.`);
  }
  const parts: WeightPart[] = [];
  let bytes = 0;
  for (let rowStart = 0; rowStart < rows; rowStart += perPart) {
    const n = Math.min(perPart, rows - rowStart);
    const packed = packRows(format, cols, native.subarray(rowStart * nativeRowBytes, (rowStart + n) * nativeRowBytes), n);
    const data = createStorage(ctx, packed.data.byteLength, `${label}[${rowStart}]`);
    writeBuffer(ctx, data, 0, packed.data);
    let scales: GPUBuffer | null = null;
    if (packed.scales) {
      scales = createStorage(ctx, packed.scales.byteLength, `${label}.scales[${rowStart}]`);
      writeBuffer(ctx, scales, 0, packed.scales);
    }
    bytes += data.size + (scales?.size ?? 0);
    parts.push({ rowStart, rows: n, data, scales });
  }
  return { format, rows, cols, strideWords: stride, parts, bytes, actQuant: options.actQuant ?? null };
}

export function destroyWeight(w: GpuWeight): void {
  for (const p of w.parts) {
    p.data.destroy();
    p.scales?.destroy();
  }
}
