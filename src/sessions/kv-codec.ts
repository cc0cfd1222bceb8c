/**
 * One stored turn of KV cache: the tokens of a range of positions and, per layer, K and V as the
 * engine exports them ([kvHeads, n, headDim]). Three encodings, chosen per chunk:
 *   f32  exact (a resumed session continues bit for bit as an uninterrupted one),
 *   f16  half the bytes (round to nearest even),
 *   q8   blocks of 32 values as int8 with one f32 scale (max |x| / 127): 1.125 bytes per value.
 * Layout (little endian): 'HKV1', format u8, 3 reserved bytes, start, end, layers, kvHeads,
 * headDim (u32 each), the tokens (u32 each), then per layer K then V, each padded to 4 bytes.
 */
import { HearthError } from '../errors.js';
import type { KvSlice } from '../engine/engine.js';
import { f16BitsToF32, f32ToF16Bits } from '../util/f16.js';
import { dequantizeQ8Blocks, quantizeQ8Blocks } from '../quant/kv-q8.js';
import { KV_FORMATS, type KvFormat } from '../quant/kv-format.js';

export { KV_FORMATS, type KvFormat };

const FORMAT_CODE: Record<KvFormat, number> = { f32: 0, f16: 1, q8: 2 };
const MAGIC = 0x3156_4b48; // 'HKV1'
const HEADER = 28;
export const Q8_BLOCK = 32;

export interface KvShape {
  layers: number;
  kvHeads: number;
  headDim: number;
}

const pad4 = (n: number) => (n + 3) & ~3;

/** Bytes one tensor of `values` floats takes in `format`. */
function tensorBytes(format: KvFormat, values: number): number {
  if (format === 'f32') return values * 4;
  if (format === 'f16') return pad4(values * 2);
  return Math.ceil(values / Q8_BLOCK) * 4 + pad4(values);
}

/** Bytes a chunk of `tokens` positions takes, before the storage envelope. */
export function chunkBytes(format: KvFormat, shape: KvShape, tokens: number): number {
  const per = shape.kvHeads * tokens * shape.headDim;
  return HEADER + tokens * 4 + shape.layers * 2 * tensorBytes(format, per);
}

/** Stored bytes per token in `format` for a model of this shape (KV plus its token id). */
export function bytesPerToken(format: KvFormat, shape: KvShape): number {
  const values = shape.layers * 2 * shape.kvHeads * shape.headDim;
  if (format === 'f32') return values * 4 + 4;
  if (format === 'f16') return values * 2 + 4;
  return values * (1 + 4 / Q8_BLOCK) + 4;
}

export function encodeKv(slice: KvSlice, shape: KvShape, format: KvFormat): Uint8Array {
  const n = slice.end - slice.start;
  const per = shape.kvHeads * n * shape.headDim;
  const out = new Uint8Array(chunkBytes(format, shape, n));
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  out[4] = FORMAT_CODE[format];
  [slice.start, slice.end, shape.layers, shape.kvHeads, shape.headDim].forEach((v, i) => view.setUint32(8 + 4 * i, v, true));
  for (let i = 0; i < n; i++) view.setUint32(HEADER + 4 * i, slice.tokens[i]!, true);
  let at = HEADER + 4 * n;
  for (const layer of slice.layers) {
    for (const t of [layer.k, layer.v]) {
      if (t.length !== per) throw new HearthError('INTERNAL', `A KV layer has ${t.length} values, expected ${per}.`);
      at = writeTensor(out, at, t, format);
    }
  }
  return out;
}

function writeTensor(out: Uint8Array, at: number, t: Float32Array, format: KvFormat): number {
  if (format === 'f32') {
    new Uint8Array(out.buffer, at, t.byteLength).set(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
    return at + t.byteLength;
  }
  if (format === 'f16') {
    const h = new Uint16Array(out.buffer, at, t.length);
    for (let i = 0; i < t.length; i++) h[i] = f32ToF16Bits(t[i]!);
    return at + pad4(t.length * 2);
  }
  const blocks = Math.ceil(t.length / Q8_BLOCK);
  quantizeQ8Blocks(t, Q8_BLOCK, new Int8Array(out.buffer, at + blocks * 4, t.length), new Float32Array(out.buffer, at, blocks));
  return at + blocks * 4 + pad4(t.length);
}

let half: Float32Array | null = null;

/** All 65536 halves as floats: a restore decodes millions of them. */
function halfTable(): Float32Array {
  if (!half) {
    half = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) half[h] = f16BitsToF32(h);
  }
  return half;
}

function readTensor(bytes: Uint8Array, at: number, values: number, format: KvFormat): [Float32Array, number] {
  const out = new Float32Array(values);
  if (format === 'f32') {
    new Uint8Array(out.buffer).set(bytes.subarray(at, at + values * 4));
    return [out, at + values * 4];
  }
  if (format === 'f16') {
    const table = halfTable();
    const view = new DataView(bytes.buffer, bytes.byteOffset + at, values * 2);
    for (let i = 0; i < values; i++) out[i] = table[view.getUint16(2 * i, true)]!;
    return [out, at + pad4(values * 2)];
  }
  const blocks = Math.ceil(values / Q8_BLOCK);
  const scales = new Float32Array(blocks);
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, blocks * 4);
  for (let b = 0; b < blocks; b++) scales[b] = view.getFloat32(4 * b, true);
  dequantizeQ8Blocks(new Int8Array(bytes.buffer, bytes.byteOffset + at + blocks * 4, values), scales, Q8_BLOCK, out);
  return [out, at + blocks * 4 + pad4(values)];
}

function corrupt(what: string): HearthError {
  return new HearthError('SESSION_CORRUPT', `A stored KV chunk is damaged: ${what}.`, {
    hint: 'Call sessions.repair(id) to drop the damaged KV (messages are kept and re-prefilled), or delete the session.',
  });
}

/** Decodes a chunk, checking it against the model shape and the range the manifest expects. */
export function decodeKv(bytes: Uint8Array, shape: KvShape, expect: { start: number; end: number }): { slice: KvSlice; format: KvFormat } {
  if (bytes.byteLength < HEADER) throw corrupt('shorter than its header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw corrupt('wrong magic');
  const format = KV_FORMATS[bytes[4]!];
  if (!format) throw corrupt(`unknown format ${bytes[4]}`);
  const [start, end, layers, kvHeads, headDim] = [0, 1, 2, 3, 4].map((i) => view.getUint32(8 + 4 * i, true)) as [number, number, number, number, number];
  if (start !== expect.start || end !== expect.end) throw corrupt(`holds positions ${start}..${end}, the manifest says ${expect.start}..${expect.end}`);
  if (layers !== shape.layers || kvHeads !== shape.kvHeads || headDim !== shape.headDim) throw corrupt('its shape does not match the model');
  const n = end - start;
  if (bytes.byteLength !== chunkBytes(format, shape, n)) throw corrupt(`${bytes.byteLength} bytes where ${chunkBytes(format, shape, n)} were expected`);
  const tokens: number[] = [];
  for (let i = 0; i < n; i++) tokens.push(view.getUint32(HEADER + 4 * i, true));
  let at = HEADER + 4 * n;
  const per = kvHeads * n * headDim;
  const out: KvSlice['layers'] = [];
  for (let l = 0; l < layers; l++) {
    const [k, a1] = readTensor(bytes, at, per, format);
    const [v, a2] = readTensor(bytes, a1, per, format);
    at = a2;
    out.push({ k, v });
  }
  return { slice: { start, end, tokens, layers: out }, format };
}

/** Positions [from, to) of a slice, re-cut per head ([kvHeads, n, headDim] is head-major). */
export function subSlice(slice: KvSlice, shape: KvShape, from: number, to: number): KvSlice {
  if (from === slice.start && to === slice.end) return slice;
  const n = slice.end - slice.start;
  const m = to - from;
  const off = from - slice.start;
  const d = shape.headDim;
  const cut = (t: Float32Array) => {
    const out = new Float32Array(shape.kvHeads * m * d);
    for (let h = 0; h < shape.kvHeads; h++) out.set(t.subarray((h * n + off) * d, (h * n + off + m) * d), h * m * d);
    return out;
  };
  return { start: from, end: to, tokens: slice.tokens.slice(off, off + m), layers: slice.layers.map((l) => ({ k: cut(l.k), v: cut(l.v) })) };
}
