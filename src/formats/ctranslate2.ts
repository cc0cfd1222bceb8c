import { HearthError } from '../errors.js';
import type { ByteSource } from '../hub/byte-source.js';
import { ChunkedReader } from './chunked-reader.js';

/**
 * CTranslate2's `model.bin` (binary versions 1..6, what faster-whisper ships):
 *
 *   u32 binary_version
 *   (version >= 2) str spec_name, u32 spec_revision
 *   u32 variable_count, then per variable:
 *     str name, u8 rank, u32 dims[rank], (version >= 4) u8 dtype id, u32 byte_count, bytes
 *     (version < 4: u8 item_size, u32 element_count; float32 or int8 by size)
 *   (version >= 3) u32 alias_count, then per alias: str alias, str target
 *
 * where str is u16 length (the terminating NUL included) and the bytes. dtype ids follow
 * ctranslate2::DataType: 0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16.
 * Quantized int8 matrices come with a float32 `<name>_scale` variable, one scale per row.
 */
export type Ct2Dtype = 'float32' | 'int8' | 'int16' | 'int32' | 'float16' | 'bfloat16';

const DTYPES: readonly Ct2Dtype[] = ['float32', 'int8', 'int16', 'int32', 'float16', 'bfloat16'];
export const CT2_DTYPE_BYTES: Readonly<Record<Ct2Dtype, number>> = { float32: 4, int8: 1, int16: 2, int32: 4, float16: 2, bfloat16: 2 };

export interface Ct2Variable {
  name: string;
  dtype: Ct2Dtype;
  shape: number[];
  /** Absolute byte range of the data in the file. */
  begin: number;
  end: number;
}

export interface Ct2Header {
  version: number;
  spec: string;
  revision: number;
  /** By name; aliases point at their target's entry. */
  variables: Map<string, Ct2Variable>;
  fileSize: number;
}

const MAX_VARIABLES = 1 << 20;

/** Reads the variable table of a model.bin, skipping over the data (read later, a tensor at a time). */
export async function readCt2Header(src: ByteSource, signal?: AbortSignal): Promise<Ct2Header> {
  const file = src.name;
  const fileSize = await src.size();
  const r = new ChunkedReader(src, fileSize, `CTranslate2 header of ${file}`, signal, 1 << 16);
  const corrupt = (msg: string): HearthError =>
    new HearthError('CORRUPT_FILE', `${file}: ${msg}`, { hint: 'The file is damaged or not a CTranslate2 model.bin: download it again.', details: { file } });
  const str = async (): Promise<string> => {
    await r.fill(2);
    const n = r.u16();
    await r.fill(n);
    return r.utf8(n).replace(/\0+$/, '');
  };

  await r.fill(4);
  const version = r.u32();
  if (version < 1 || version > 6) {
    throw new HearthError('UNSUPPORTED_FORMAT', `${file}: CTranslate2 binary version ${version} is not one Hearth reads (1 to 6).`, {
      hint: 'Convert the model with a CTranslate2 release from 2.x to 4.x (ct2-transformers-converter).',
      details: { file, version },
    });
  }
  let spec = '';
  let revision = 1;
  if (version >= 2) {
    spec = await str();
    await r.fill(4);
    revision = r.u32();
  }
  await r.fill(4);
  const count = r.u32();
  if (count > MAX_VARIABLES) throw corrupt(`it claims ${count} variables.`);
  const variables = new Map<string, Ct2Variable>();
  for (let i = 0; i < count; i++) {
    const name = await str();
    await r.fill(1);
    const rank = r.u8();
    if (rank > 8) throw corrupt(`variable ${name} has rank ${rank}.`);
    await r.fill(4 * rank + 5);
    const shape: number[] = [];
    for (let d = 0; d < rank; d++) shape.push(r.u32());
    let dtype: Ct2Dtype;
    let bytes: number;
    if (version >= 4) {
      const id = r.u8();
      const t = DTYPES[id];
      if (!t) throw corrupt(`variable ${name} has an unknown dtype id ${id}.`);
      dtype = t;
      bytes = r.u32();
    } else {
      const size = r.u8();
      dtype = size === 4 ? 'float32' : size === 1 ? 'int8' : size === 2 ? 'int16' : (() => { throw corrupt(`variable ${name} has item size ${size}.`); })();
      bytes = r.u32() * size;
    }
    const elements = shape.reduce((a, b) => a * b, 1);
    if (bytes !== elements * CT2_DTYPE_BYTES[dtype]) throw corrupt(`variable ${name} (${dtype} [${shape.join(', ')}]) has ${bytes} bytes of data.`);
    const begin = r.offset;
    if (begin + bytes > fileSize) {
      throw new HearthError('TRUNCATED_FILE', `${file} is truncated: variable ${name} needs bytes up to ${begin + bytes}, the file has ${fileSize}.`, {
        hint: 'The file is incomplete: download it again.',
        details: { file, size: fileSize },
      });
    }
    variables.set(name, { name, dtype, shape, begin, end: begin + bytes });
    r.skipTo(begin + bytes);
  }
  if (version >= 3 && r.remaining >= 4) {
    await r.fill(4);
    const aliases = r.u32();
    if (aliases > MAX_VARIABLES) throw corrupt(`it claims ${aliases} aliases.`);
    for (let i = 0; i < aliases; i++) {
      const alias = await str();
      const target = await str();
      const v = variables.get(target);
      if (!v) throw corrupt(`alias ${alias} points at ${target}, which is not a variable.`);
      variables.set(alias, v);
    }
  }
  return { version, spec, revision, variables, fileSize };
}

/** A small scalar variable (num_heads, flags) as a number. */
export async function readCt2Scalar(src: ByteSource, v: Ct2Variable, signal?: AbortSignal): Promise<number> {
  const b = await src.read(v.begin, v.end - v.begin, signal);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (v.dtype) {
    case 'int8':
      return dv.getInt8(0);
    case 'int16':
      return dv.getInt16(0, true);
    case 'int32':
      return dv.getInt32(0, true);
    case 'float32':
      return dv.getFloat32(0, true);
    default:
      throw new HearthError('CORRUPT_FILE', `${src.name}: scalar ${v.name} is ${v.dtype}.`, { hint: 'The file is damaged: download it again.' });
  }
}
