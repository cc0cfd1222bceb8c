import { HearthError } from '../errors.js';
import { ByteWriter } from './byte-writer.js';
import { GGML_TYPE_IDS } from './ggml-types.js';
import { GGUF_VALUE_TYPES, type GgufValueTypeName } from './gguf.js';
import { isTensorDtype, tensorByteLength, type TensorDtype } from './tensors.js';

export type GgufScalarTypeName = Exclude<GgufValueTypeName, 'array'>;

export type GgufWritableScalar = number | bigint | boolean | string;

export interface GgufMetadataEntry {
  key: string;
  type: GgufValueTypeName;
  /** A scalar, or for type 'array' a list of `itemType` values. */
  value: GgufWritableScalar | ArrayLike<GgufWritableScalar>;
  itemType?: GgufScalarTypeName;
}

export interface GgufTensorInput {
  name: string;
  /** A Hearth dtype, or a raw ggml type id (tests write types Hearth cannot load). */
  type: TensorDtype | number;
  /** Row-major, outermost first; written innermost-first as GGUF wants. */
  shape: number[];
  /** Native bytes (for a raw type id, whatever the test wants stored). */
  data: Uint8Array;
}

export interface WriteGgufOptions {
  metadata: GgufMetadataEntry[];
  tensors: GgufTensorInput[];
  /** Data alignment; written as general.alignment when not 32. */
  alignment?: number;
}

/** A GGUF v3 file in memory: for test fixtures and synthetic models. */
export function writeGguf(opts: WriteGgufOptions): Uint8Array {
  const alignment = opts.alignment ?? 32;
  if (!(Number.isInteger(alignment) && alignment > 0 && (alignment & (alignment - 1)) === 0)) {
    throw new HearthError('INVALID_ARGUMENT', `GGUF alignment must be a power of two, got ${alignment}.`);
  }
  const metadata = [...opts.metadata];
  const given = metadata.find((m) => m.key === 'general.alignment');
  if (given && given.value !== alignment) throw new HearthError('INVALID_ARGUMENT', `general.alignment ${String(given.value)} contradicts alignment ${alignment}.`);
  if (!given && alignment !== 32) metadata.push({ key: 'general.alignment', type: 'u32', value: alignment });

  const w = new ByteWriter();
  w.bytes(w.utf8('GGUF'));
  w.u32(3);
  w.u64(opts.tensors.length);
  w.u64(metadata.length);
  const keys = new Set<string>();
  for (const m of metadata) {
    if (keys.has(m.key)) throw new HearthError('INVALID_ARGUMENT', `GGUF metadata key ${m.key} given twice.`);
    keys.add(m.key);
    writeString(w, m.key);
    w.u32(GGUF_VALUE_TYPES[m.type]);
    if (m.type === 'array') {
      if (!m.itemType) throw new HearthError('INVALID_ARGUMENT', `GGUF metadata ${m.key} is an array without itemType.`);
      if (typeof m.value !== 'object' || m.value === null) throw new HearthError('INVALID_ARGUMENT', `GGUF metadata ${m.key} must be an array.`);
      const items = m.value as ArrayLike<GgufWritableScalar>;
      w.u32(GGUF_VALUE_TYPES[m.itemType]);
      w.u64(items.length);
      for (let i = 0; i < items.length; i++) writeScalar(w, m.itemType, items[i]!, m.key);
    } else {
      writeScalar(w, m.type, m.value as GgufWritableScalar, m.key);
    }
  }

  const offsets: number[] = [];
  let dataSize = 0;
  const names = new Set<string>();
  for (const t of opts.tensors) {
    if (names.has(t.name)) throw new HearthError('INVALID_ARGUMENT', `GGUF tensor ${t.name} given twice.`);
    names.add(t.name);
    if (typeof t.type === 'string') {
      if (!isTensorDtype(t.type)) throw new HearthError('INVALID_ARGUMENT', `Unknown tensor type ${String(t.type)} for ${t.name}.`);
      const want = tensorByteLength(t.type, t.shape, t.name);
      if (t.data.byteLength !== want) throw new HearthError('INVALID_ARGUMENT', `Tensor ${t.name} (${t.type} [${t.shape.join(', ')}]) needs ${want} bytes, got ${t.data.byteLength}.`);
    }
    offsets.push(dataSize);
    dataSize = alignUp(dataSize + t.data.byteLength, alignment);
    writeString(w, t.name);
    w.u32(t.shape.length);
    for (let d = t.shape.length - 1; d >= 0; d--) w.u64(t.shape[d]!);
    w.u32(typeof t.type === 'number' ? t.type : GGML_TYPE_IDS[t.type]);
    w.u64(offsets[offsets.length - 1]!);
  }

  const header = w.result();
  const dataStart = alignUp(header.byteLength, alignment);
  const out = new Uint8Array(dataStart + dataSize);
  out.set(header, 0);
  opts.tensors.forEach((t, i) => out.set(t.data, dataStart + offsets[i]!));
  return out;
}

function writeString(w: ByteWriter, s: string): void {
  const b = w.utf8(s);
  w.u64(b.byteLength);
  w.bytes(b);
}

function writeScalar(w: ByteWriter, type: GgufScalarTypeName, v: GgufWritableScalar, key: string): void {
  const bad = () => new HearthError('INVALID_ARGUMENT', `GGUF metadata ${key}: ${JSON.stringify(typeof v === 'bigint' ? String(v) : v)} is not a ${type}.`);
  if (type === 'string') {
    if (typeof v !== 'string') throw bad();
    return writeString(w, v);
  }
  if (type === 'bool') {
    if (typeof v !== 'boolean') throw bad();
    return w.u8(v ? 1 : 0);
  }
  if (type === 'u64' || type === 'i64') {
    if (typeof v !== 'bigint' && !(typeof v === 'number' && Number.isSafeInteger(v))) throw bad();
    return type === 'u64' ? w.u64(v) : w.i64(v);
  }
  if (typeof v !== 'number') throw bad();
  if (type !== 'f32' && type !== 'f64' && !Number.isInteger(v)) throw bad();
  w[type](v);
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
