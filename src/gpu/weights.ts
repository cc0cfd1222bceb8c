import { HearthError } from '../errors.js';
import { BLOCK_BYTES, QK, isQuantized, type ActQuant, type WeightFormat } from '../quant/formats.js';
import type { GpuContext } from './device.js';
import { createStorage, roundUp, writeBuffer } from './buffers.js';

/**
 * How a weight matrix [rows, cols] (row-major, [out, in] as Hugging Face stores it) lives on the GPU.
 *
 * `data` holds rows of `strideWords` u32 words each:
 *  - f32:  cols floats, padded with zeros to a multiple of 4 (vec4 loads)
 *  - f16:  cols halves packed two per u32 (low half first), padded to a multiple of 8 halves
 *  - q8_0: cols/32 blocks of 8 words = 32 int8 (little-endian, 4 per word)
 *  - q4_0: cols/32 blocks of 4 words = 16 bytes in GGUF order (byte j: element j low nibble,
 *          element j+16 high nibble)
 * For q8_0/q4_0, `scales` holds one f16 per block, packed two per u32, indexed row * (cols/32) + block
 * (part-local rows). Splitting quants from scales keeps every load aligned.
 *
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
  switch (format) {
    case 'f32':
      return roundUp(cols, 4);
    case 'f16':
      return roundUp(cols, 8) / 2;
    case 'q8_0':
      return (cols / QK) * 8;
    case 'q4_0':
      return (cols / QK) * 4;
  }
}

export function checkWeightShape(format: WeightFormat, rows: number, cols: number, name = 'weight'): void {
  if (!(rows > 0 && cols > 0 && Number.isInteger(rows) && Number.isInteger(cols))) {
    throw new HearthError('INVALID_ARGUMENT', `${name} has an invalid shape [${rows}, ${cols}].`);
  }
  if (isQuantized(format) && cols % QK !== 0) {
    throw new HearthError('UNSUPPORTED_TENSOR_TYPE', `${name} is ${format} with ${cols} columns, not a multiple of ${QK}.`, {
      hint: `Quantized formats need rows whose length is a multiple of ${QK}; use f16 or f32 for this tensor.`,
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
  if (format === 'f32' || format === 'f16') {
    const rowBytes = cols * (format === 'f32' ? 4 : 2);
    for (let r = 0; r < rowCount; r++) bytes.set(src.subarray(r * rowBytes, (r + 1) * rowBytes), r * stride * 4);
    return { data, scales: null };
  }
  const nb = cols / QK;
  const blockBytes = BLOCK_BYTES[format];
  const qBytes = blockBytes - 2;
  const scaleHalves = new Uint16Array(roundUp(rowCount * nb, 2));
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let i = 0; i < rowCount * nb; i++) {
    const o = i * blockBytes;
    scaleHalves[i] = dv.getUint16(o, true);
    bytes.set(src.subarray(o + 2, o + blockBytes), i * qBytes);
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
  // (a quantized row's scales, 2 bytes per 32 values, are always smaller than its quants)
  let rows = Math.floor(maxBytes / rowBytes);
  // keep part boundaries even so the packed f16 scales of a part start on a word
  rows = Math.max(1, rows - (rows % 2));
  return rows;
}

/**
 * Upload a weight matrix given its native bytes (GGUF layout: f32, f16, q8_0 or q4_0).
 * Rows are repacked and uploaded a part at a time, so JS never holds a second full copy.
 */
export function uploadWeight(ctx: GpuContext, format: WeightFormat, rows: number, cols: number, native: Uint8Array, options: UploadWeightOptions = {}): GpuWeight {
  const label = options.label ?? 'weight';
  checkWeightShape(format, rows, cols, label);
  const stride = strideWords(format, cols);
  const maxBytes = Math.min(options.maxPartBytes ?? Infinity, ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
  const perPart = rowsPerPart(format, cols, maxBytes);
  const nativeRowBytes = isQuantized(format) ? (cols / QK) * BLOCK_BYTES[format] : cols * (format === 'f32' ? 4 : 2);
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
