import { HearthError } from '../errors.js';
import type { ByteSource } from '../hub/byte-source.js';
import { ChunkedReader } from './chunked-reader.js';
import { ggmlTypeName, GGML_TYPE_IDS } from './ggml-types.js';
import { canonicalTensorName, isCanonicalName, tensorByteLength, type TensorDtype, type TensorInfo } from './tensors.js';

/**
 * A GGUF metadata value. Integers are numbers unless a 64-bit value is beyond 2^53 (then bigint);
 * arrays are plain arrays, so callers can use Array.isArray and indexing alike.
 */
export type GgufValue = number | bigint | boolean | string | GgufValue[];

/** GGUF's value type ids (gguf.md). */
export const GGUF_VALUE_TYPES = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;

export type GgufValueTypeName = keyof typeof GGUF_VALUE_TYPES;

/** Smallest encoded size of one value of each type id, to reject impossible array lengths up front. */
const MIN_VALUE_BYTES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 8: 8, 9: 12, 10: 8, 11: 8, 12: 8 };

export interface GgufTensorEntry {
  name: string;
  /** ggml order: innermost (contiguous) dimension first. */
  dims: number[];
  type: number;
  /** ggml's name for `type` ('Q5_K'), or 'unknown type id N'. */
  typeName: string;
  /** Relative to the start of the data section. */
  offset: number;
}

export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufValue>;
  /** The value type of each metadata key (and for arrays, 'array'). */
  metadataTypes: Map<string, GgufValueTypeName>;
  tensors: GgufTensorEntry[];
  alignment: number;
  /** Absolute offset of the data section. */
  dataOffset: number;
  fileSize: number;
}

const MAGIC = 0x46554747; // 'GGUF' read as a little-endian u32
const MAX_DIMS = 4;
const DEFAULT_ALIGNMENT = 32;
/** llama.cpp writes 32; anything past 1 GiB cannot be real (and breaks 32-bit power-of-two checks). */
const MAX_ALIGNMENT = 1 << 30;
/** Counts beyond this cannot be real, whatever the file size: the header is damaged. */
const ABSURD = 2 ** 48;

export interface ReadGgufOptions {
  signal?: AbortSignal;
  /** Bytes fetched per read while walking the header. Default 1 MiB. */
  chunkSize?: number;
}

/**
 * Parses a GGUF header (v2 or v3): metadata, tensor directory, alignment and data offset.
 * Reads the header in chunks and stops at its end; tensor data is never read.
 */
export async function readGgufHeader(src: ByteSource, opts: ReadGgufOptions = {}): Promise<GgufHeader> {
  const fileSize = await src.size();
  const file = src.name;
  const r = new ChunkedReader(src, fileSize, `GGUF header of ${file}`, opts.signal, opts.chunkSize);
  const corrupt = (msg: string, details?: Record<string, unknown>) =>
    new HearthError('CORRUPT_FILE', `${file}: ${msg}`, { hint: 'The file is damaged or not a GGUF model: download it again.', details: { file, ...details } });

  if (fileSize < 4) {
    throw new HearthError('TRUNCATED_FILE', `${file} is too short to be a GGUF file (${fileSize} bytes).`, { details: { file, size: fileSize } });
  }
  await r.fill(4);
  const magic = r.u32();
  if (magic !== MAGIC) throw corrupt('not a GGUF file (bad magic).', { magic });
  await r.fill(4);
  const version = r.u32();
  if (version === 1) {
    throw new HearthError('UNSUPPORTED_FORMAT', `${file} is GGUF version 1, which Hearth does not read.`, {
      hint: 'Convert it to a current GGUF (v3) with llama.cpp.',
      details: { file, version },
    });
  }
  if (version !== 2 && version !== 3) {
    // a byte-swapped version number means a big-endian file
    const swapped = ((version & 0xff) << 24) | ((version >>> 8) & 0xff) << 16 | ((version >>> 16) & 0xff) << 8 | (version >>> 24);
    const bigEndian = swapped === 2 || swapped === 3;
    throw new HearthError('UNSUPPORTED_FORMAT', bigEndian ? `${file} is a big-endian GGUF file, which Hearth does not read.` : `${file} has GGUF version ${version}; Hearth reads versions 2 and 3.`, {
      details: { file, version },
    });
  }

  /** A u64 count of `what` (plural), checked against the bytes left in the file. */
  const count = async (what: string, minBytesEach: number): Promise<number> => {
    await r.fill(8);
    const v = r.u64();
    if (v > BigInt(ABSURD)) throw corrupt(`impossible number of ${what} (${v}).`);
    const n = Number(v);
    if (n * minBytesEach > r.remaining) {
      throw new HearthError('TRUNCATED_FILE', `${file} is truncated or corrupt: its header declares ${n} ${what}, more than the ${r.remaining} bytes left can hold.`, {
        details: { file, count: n, remaining: r.remaining },
      });
    }
    return n;
  };

  const readString = async (): Promise<string> => {
    if (!r.has(8)) await r.fill(8);
    const len = r.u64();
    if (len > BigInt(ABSURD)) throw corrupt(`impossible string length ${len}.`);
    const n = Number(len);
    if (!r.has(n)) await r.fill(n);
    return r.utf8(n);
  };

  const readScalar = (type: number): GgufValue => {
    switch (type) {
      case 0:
        return r.u8();
      case 1:
        return r.i8();
      case 2:
        return r.u16();
      case 3:
        return r.i16();
      case 4:
        return r.u32();
      case 5:
        return r.i32();
      case 6:
        return r.f32();
      case 7:
        return r.u8() !== 0;
      case 10:
        return narrow(r.u64());
      case 11:
        return narrow(r.i64());
      case 12:
        return r.f64();
      default:
        throw corrupt(`unknown metadata value type ${type}.`);
    }
  };

  const readValue = async (type: number, key: string, depth: number): Promise<GgufValue> => {
    if (type === 8) return readString();
    if (type === 9) {
      if (depth > 8) throw corrupt(`metadata ${key} nests arrays too deeply.`);
      await r.fill(4);
      const itemType = r.u32();
      const min = MIN_VALUE_BYTES[itemType];
      if (min === undefined) throw corrupt(`metadata ${key} is an array of unknown value type ${itemType}.`, { key });
      const n = await count(`elements in ${key}`, min);
      const out: GgufValue[] = new Array<GgufValue>(n);
      if (itemType === 8 || itemType === 9) {
        for (let i = 0; i < n; i++) out[i] = await readValue(itemType, key, depth + 1);
      } else {
        // fixed-size items: fetch in bounded batches, decode synchronously
        const batch = Math.max(1, Math.floor((16 << 20) / min));
        for (let i = 0; i < n; ) {
          const k = Math.min(batch, n - i);
          await r.fill(k * min);
          for (const end = i + k; i < end; i++) out[i] = readScalar(itemType);
        }
      }
      return out;
    }
    const min = MIN_VALUE_BYTES[type];
    if (min === undefined) throw corrupt(`metadata ${key} has unknown value type ${type}.`, { key });
    await r.fill(min);
    const v = readScalar(type);
    return type === 6 ? shortestF32(v as number) : v;
  };

  const tensorCount = await count('tensors', 8 + 4 + 4 + 8);
  const kvCount = await count('metadata entries', 8 + 4 + 1);
  const metadata = new Map<string, GgufValue>();
  const metadataTypes = new Map<string, GgufValueTypeName>();
  for (let i = 0; i < kvCount; i++) {
    const key = await readString();
    await r.fill(4);
    const type = r.u32();
    if (metadata.has(key)) throw corrupt(`metadata key ${key} appears twice.`, { key });
    metadata.set(key, await readValue(type, key, 0));
    metadataTypes.set(key, typeName(type));
  }

  let alignment = DEFAULT_ALIGNMENT;
  const a = metadata.get('general.alignment');
  if (a !== undefined) {
    if (typeof a !== 'number' || !Number.isInteger(a) || a <= 0 || a > MAX_ALIGNMENT || (a & (a - 1)) !== 0) {
      throw corrupt(`general.alignment ${String(a)} is not a power of two up to ${MAX_ALIGNMENT}.`, { field: 'general.alignment', value: String(a) });
    }
    alignment = a;
  }

  const tensors: GgufTensorEntry[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = await readString();
    if (seen.has(name)) throw corrupt(`tensor ${name} appears twice.`, { tensor: name });
    seen.add(name);
    await r.fill(4);
    const nDims = r.u32();
    if (nDims > MAX_DIMS) throw corrupt(`tensor ${name} has ${nDims} dimensions; GGUF allows at most ${MAX_DIMS}.`, { tensor: name });
    await r.fill(nDims * 8 + 4 + 8);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const v = r.u64();
      if (v > BigInt(ABSURD)) throw corrupt(`tensor ${name} has an impossible dimension ${v}.`, { tensor: name });
      dims.push(Number(v));
    }
    const type = r.u32();
    const off = r.u64();
    if (off > BigInt(ABSURD)) throw corrupt(`tensor ${name} has an impossible offset ${off}.`, { tensor: name });
    const offset = Number(off);
    if (offset % alignment !== 0) throw corrupt(`tensor ${name} starts at offset ${offset}, not a multiple of the alignment ${alignment}.`, { tensor: name });
    tensors.push({ name, dims, type, typeName: ggmlTypeName(type), offset });
  }
  const dataOffset = Math.ceil(r.offset / alignment) * alignment;
  return { version, metadata, metadataTypes, tensors, alignment, dataOffset, fileSize };
}

/** The shortest decimal that is the same f32: an epsilon stored as f32 reads back as 1e-5, not 9.99999974e-6. */
function shortestF32(v: number): number {
  if (!Number.isFinite(v)) return v;
  for (let p = 1; p <= 9; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === v) return d;
  }
  return v;
}

function narrow(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

function typeName(id: number): GgufValueTypeName {
  for (const [name, v] of Object.entries(GGUF_VALUE_TYPES)) if (v === id) return name as GgufValueTypeName;
  return 'u8'; // unreachable: readValue rejected unknown ids
}

const DTYPE_BY_ID = new Map<number, TensorDtype>(Object.entries(GGML_TYPE_IDS).map(([k, v]) => [v, k as TensorDtype]));

/**
 * Tensor descriptors of a parsed GGUF file, under canonical names, shapes converted to
 * row-major outermost-first. A tensor the forward pass needs in a type Hearth cannot load is an
 * UNSUPPORTED_TENSOR_TYPE error; such extras (never loaded) are left out.
 */
export function ggufTensorInfos(header: GgufHeader, file: string): TensorInfo[] {
  const out: TensorInfo[] = [];
  const arch = header.metadata.get('general.architecture');
  for (const t of header.tensors) {
    const name = canonicalTensorName(t.name, 'gguf', typeof arch === 'string' ? arch : undefined);
    const dtype = DTYPE_BY_ID.get(t.type);
    if (!dtype) {
      if (!isCanonicalName(name)) continue;
      const known = !t.typeName.startsWith('unknown');
      throw new HearthError(
        'UNSUPPORTED_TENSOR_TYPE',
        known ? `${file}: tensor ${t.name} has type ${t.typeName}, which Hearth does not support yet.` : `${file}: tensor ${t.name} has an unknown ggml type id ${t.type}.`,
        {
          hint: known
            ? 'Hearth reads GGUF tensors in F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K, IQ4_NL and IQ4_XS: pick a file quantized as one of those (Q4_K_M and Q8_0 are common).'
            : 'The file may come from a newer llama.cpp than Hearth knows, or be damaged.',
          details: { file, tensor: t.name, type: t.type, typeName: t.typeName },
        },
      );
    }
    const shape = [...t.dims].reverse();
    const byteLength = tensorByteLength(dtype, shape, `${file}: tensor ${t.name}`);
    const offset = header.dataOffset + t.offset;
    if (offset + byteLength > header.fileSize) {
      throw new HearthError('TRUNCATED_FILE', `${file} is truncated: tensor ${t.name} needs bytes up to ${offset + byteLength}, but the file has ${header.fileSize}.`, {
        hint: 'The file is incomplete: download it again.',
        details: { file, tensor: t.name, needed: offset + byteLength, size: header.fileSize },
      });
    }
    out.push({ name, sourceName: t.name, file, offset, byteLength, dtype, shape });
  }
  return out;
}
