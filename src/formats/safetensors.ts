import { HearthError } from '../errors.js';
import type { ByteSource } from '../hub/byte-source.js';
import { decodeUtf8 } from '../hub/byte-source.js';
import { canonicalTensorName, elementCount, isCanonicalName, isTensorDtype, SAFETENSORS_DTYPES, type TensorInfo } from './tensors.js';

/** Every safetensors dtype and its element size; Hearth loads F32, F16 and BF16. */
const DTYPE_BYTES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E4M3FN: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
} as const;

export type SafetensorsDtype = keyof typeof DTYPE_BYTES;

export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<string, number>> = DTYPE_BYTES;

export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  tensors: SafetensorsEntry[];
  /** Absolute offset of the byte buffer (8 + header length). */
  dataOffset: number;
  fileSize: number;
}

/** The reference implementation refuses headers above 100 MB; so do we. */
const MAX_HEADER_BYTES = 100_000_000;

/** Reads and validates the JSON header of a .safetensors file, without touching tensor data. */
export async function readSafetensorsHeader(src: ByteSource, signal?: AbortSignal): Promise<SafetensorsHeader> {
  const file = src.name;
  const fileSize = await src.size();
  const corrupt = (msg: string, details?: Record<string, unknown>) =>
    new HearthError('CORRUPT_FILE', `${file}: ${msg}`, { hint: 'The file is damaged or not a safetensors file: download it again.', details: { file, ...details } });
  const truncated = (msg: string, details?: Record<string, unknown>) =>
    new HearthError('TRUNCATED_FILE', `${file} is truncated: ${msg}`, { hint: 'The file is incomplete: download it again.', details: { file, size: fileSize, ...details } });

  if (fileSize < 8) throw truncated(`it has ${fileSize} bytes, less than the 8-byte header length.`);
  const lenBytes = await src.read(0, 8, signal);
  const len = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (len < 2n || len > BigInt(MAX_HEADER_BYTES)) throw corrupt(`not a safetensors file (header length ${len}).`, { headerLength: String(len) });
  const headerLength = Number(len);
  if (8 + headerLength > fileSize) throw truncated(`its ${headerLength}-byte header runs past the end of the file (${fileSize} bytes).`);
  const text = decodeUtf8(await src.read(8, headerLength, signal));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw corrupt(`the header is not valid JSON (${e instanceof Error ? e.message : String(e)}).`);
  }
  if (!isObject(json)) throw corrupt('the header is not a JSON object.');

  const dataOffset = 8 + headerLength;
  const dataSize = fileSize - dataOffset;
  let metadata: Record<string, string> = {};
  const tensors: SafetensorsEntry[] = [];
  for (const [name, v] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isObject(v)) throw corrupt('__metadata__ is not an object.');
      metadata = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
      continue;
    }
    if (!isObject(v)) throw corrupt(`tensor ${name} has no descriptor object.`, { tensor: name });
    const { dtype, shape, data_offsets: offs } = v;
    if (typeof dtype !== 'string') throw corrupt(`tensor ${name} has no dtype.`, { tensor: name });
    if (!Array.isArray(shape) || !shape.every(isCount)) throw corrupt(`tensor ${name} has an invalid shape ${JSON.stringify(shape)}.`, { tensor: name });
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isCount) || offs[0] > offs[1]) {
      throw corrupt(`tensor ${name} has invalid data_offsets ${JSON.stringify(offs)}.`, { tensor: name });
    }
    const [b, e] = offs as [number, number];
    const size = SAFETENSORS_DTYPE_BYTES[dtype];
    if (size !== undefined && e - b !== elementCount(shape as number[]) * size) {
      throw corrupt(`tensor ${name} (${dtype} [${shape.join(', ')}]) should take ${elementCount(shape as number[]) * size} bytes, but its data_offsets span ${e - b}.`, { tensor: name });
    }
    if (e > dataSize) throw truncated(`tensor ${name} ends at byte ${dataOffset + e}, but the file has ${fileSize}.`, { tensor: name, needed: dataOffset + e });
    tensors.push({ name, dtype, shape: shape as number[], begin: dataOffset + b, end: dataOffset + e });
  }
  return { metadata, tensors, dataOffset, fileSize };
}

/**
 * Tensor descriptors under canonical names (`arch`: config.json's architectures[0], whose family
 * decides some names). A tensor the forward pass needs in a dtype Hearth
 * cannot load is an UNSUPPORTED_TENSOR_TYPE error; extras in such dtypes (never loaded) are left out.
 */
export function safetensorsTensorInfos(header: SafetensorsHeader, file: string, arch?: string): TensorInfo[] {
  const out: TensorInfo[] = [];
  for (const t of header.tensors) {
    const name = canonicalTensorName(t.name, 'hf', arch);
    if (!isTensorDtype(t.dtype) || !SAFETENSORS_DTYPES.includes(t.dtype)) {
      if (!isCanonicalName(name)) continue;
      throw new HearthError('UNSUPPORTED_TENSOR_TYPE', `${file}: tensor ${t.name} has dtype ${t.dtype}, which Hearth does not support.`, {
        hint: 'Hearth loads safetensors weights in F32, F16 and BF16.',
        details: { file, tensor: t.name, dtype: t.dtype },
      });
    }
    out.push({ name, sourceName: t.name, file, offset: t.begin, byteLength: t.end - t.begin, dtype: t.dtype, shape: t.shape });
  }
  return out;
}

export interface SafetensorsIndex {
  /** Tensor source name -> shard file name, relative to the index's folder. */
  weightMap: Map<string, string>;
  metadata: Record<string, unknown>;
}

/** Parses model.safetensors.index.json. */
export function parseSafetensorsIndex(text: string, file = 'model.safetensors.index.json'): SafetensorsIndex {
  const corrupt = (msg: string) => new HearthError('CORRUPT_FILE', `${file}: ${msg}`, { hint: 'The index file is damaged: download it again.', details: { file } });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw corrupt(`not valid JSON (${e instanceof Error ? e.message : String(e)}).`);
  }
  if (!isObject(json) || !isObject(json.weight_map)) throw corrupt('it has no weight_map object.');
  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(json.weight_map)) {
    if (typeof shard !== 'string' || shard === '') throw corrupt(`tensor ${name} maps to ${JSON.stringify(shard)}, not a file name.`);
    weightMap.set(name, shard);
  }
  if (weightMap.size === 0) throw corrupt('its weight_map is empty.');
  return { weightMap, metadata: isObject(json.metadata) ? json.metadata : {} };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
