import { HearthError } from '../errors.js';
import { SAFETENSORS_DTYPE_BYTES, type SafetensorsDtype } from './safetensors.js';
import { elementCount } from './tensors.js';

export interface SafetensorsTensorInput {
  name: string;
  dtype: SafetensorsDtype;
  /** Row-major, outermost first. */
  shape: number[];
  /** Little-endian element bytes. */
  data: Uint8Array;
}

/** A .safetensors file in memory, tensors stored in the order given: for test fixtures. */
export function writeSafetensors(tensors: SafetensorsTensorInput[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || t.name in header) throw new HearthError('INVALID_ARGUMENT', `Tensor name ${t.name} given twice or reserved.`);
    const size = SAFETENSORS_DTYPE_BYTES[t.dtype];
    if (size === undefined) throw new HearthError('INVALID_ARGUMENT', `Unknown safetensors dtype ${t.dtype} for ${t.name}.`);
    const want = elementCount(t.shape) * size;
    if (t.data.byteLength !== want) throw new HearthError('INVALID_ARGUMENT', `Tensor ${t.name} (${t.dtype} [${t.shape.join(', ')}]) needs ${want} bytes, got ${t.data.byteLength}.`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + want] };
    offset += want;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  // pad with spaces so the byte buffer starts 8-aligned, as the reference writer does
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let at = 8 + json.byteLength;
  for (const t of tensors) {
    out.set(t.data, at);
    at += t.data.byteLength;
  }
  return out;
}

/** model.safetensors.index.json for shards: tensor name -> shard file. */
export function writeSafetensorsIndex(weightMap: Record<string, string>, totalSize?: number): string {
  return JSON.stringify({ metadata: totalSize === undefined ? {} : { total_size: totalSize }, weight_map: weightMap }, null, 2);
}
