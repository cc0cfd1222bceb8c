import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HearthError, type HearthErrorCode } from '../../src/errors.js';
import { ggufTensorInfos, readGgufHeader, type GgufValue } from '../../src/formats/gguf.js';
import { writeGguf, type GgufMetadataEntry, type GgufTensorInput } from '../../src/formats/gguf-writer.js';
import { tensorByteLength } from '../../src/formats/tensors.js';
import type { ByteSource } from '../../src/hub/byte-source.js';
import { MemoryByteSource } from '../../src/hub/memory.js';
import { quantize } from '../../src/quant/formats.js';
import { randomF32, rng } from '../helpers/random.js';

const STORIES = '/work/shared/models/stories260K/stories260K.gguf';
const storiesBytes = new Uint8Array(readFileSync(STORIES));

/** Counts what a parser actually reads. */
class CountingSource implements ByteSource {
  reads = 0;
  bytes = 0;
  maxEnd = 0;
  constructor(private readonly inner: ByteSource) {}
  get name() {
    return this.inner.name;
  }
  size() {
    return this.inner.size();
  }
  async read(offset: number, length: number, signal?: AbortSignal) {
    this.reads++;
    this.bytes += length;
    this.maxEnd = Math.max(this.maxEnd, offset + length);
    return this.inner.read(offset, length, signal);
  }
}

async function expectCode(p: Promise<unknown> | (() => unknown), code: HearthErrorCode, message?: RegExp): Promise<HearthError> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).toBeInstanceOf(HearthError);
  const he = err as HearthError;
  expect(he.code, he.message).toBe(code);
  if (message) expect(he.message).toMatch(message);
  return he;
}

async function parse(bytes: Uint8Array, name = 'model.gguf') {
  const header = await readGgufHeader(new MemoryByteSource(name, bytes));
  return { header, tensors: ggufTensorInfos(header, name) };
}

describe('GGUF reader on stories260K', () => {
  it('reads the header, metadata and 48 F32 tensors', async () => {
    const { header, tensors } = await parse(storiesBytes, 'stories260K.gguf');
    expect(header.version).toBe(3);
    expect(header.alignment).toBe(32);
    expect(header.tensors).toHaveLength(48);
    expect(header.tensors.every((t) => t.typeName === 'F32')).toBe(true);
    expect(header.dataOffset % 32).toBe(0);
    const md = header.metadata;
    expect(md.get('general.architecture')).toBe('llama');
    expect(md.get('llama.embedding_length')).toBe(64);
    expect(md.get('llama.feed_forward_length')).toBe(172);
    expect(md.get('llama.block_count')).toBe(5);
    expect(md.get('llama.attention.head_count')).toBe(8);
    expect(md.get('llama.attention.head_count_kv')).toBe(4);
    expect(md.get('llama.attention.layer_norm_rms_epsilon')).toBe(1e-5);
    expect(md.get('tokenizer.ggml.model')).toBe('llama');
    const tokens = md.get('tokenizer.ggml.tokens') as string[];
    expect(tokens).toHaveLength(512);
    expect(tokens.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
    expect((md.get('tokenizer.ggml.scores') as number[]).length).toBe(512);
    expect(header.metadataTypes.get('tokenizer.ggml.tokens')).toBe('array');

    const byName = new Map(tensors.map((t) => [t.name, t]));
    expect(byName.get('embed')).toMatchObject({ sourceName: 'token_embd.weight', dtype: 'F32', shape: [512, 64], byteLength: 512 * 64 * 4 });
    expect(byName.get('layers.0.q')!.shape).toEqual([64, 64]);
    expect(byName.get('layers.0.k')!.shape).toEqual([32, 64]);
    expect(byName.get('layers.4.gate')!.shape).toEqual([172, 64]);
    expect(byName.get('layers.4.down')!.shape).toEqual([64, 172]);
    expect(byName.get('final_norm')!.shape).toEqual([64]);
    // every tensor lies inside the file, aligned, and none overlap
    const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
    for (let i = 0; i < sorted.length; i++) {
      expect(sorted[i]!.offset % 32).toBe(0);
      if (i > 0) expect(sorted[i]!.offset).toBeGreaterThanOrEqual(sorted[i - 1]!.offset + sorted[i - 1]!.byteLength);
    }
    expect(sorted.at(-1)!.offset + sorted.at(-1)!.byteLength).toBeLessThanOrEqual(storiesBytes.byteLength);
    // output.weight is a copy of token_embd.weight in this file
    const e = byName.get('embed')!;
    const o = byName.get('lm_head')!;
    expect(Buffer.compare(storiesBytes.subarray(e.offset, e.offset + e.byteLength), storiesBytes.subarray(o.offset, o.offset + o.byteLength))).toBe(0);
  });

  it('reads only the header, in chunks', async () => {
    const src = new CountingSource(new MemoryByteSource('stories260K.gguf', storiesBytes));
    const header = await readGgufHeader(src, { chunkSize: 512 });
    expect(src.reads).toBeGreaterThan(10);
    expect(src.maxEnd).toBeLessThan(header.dataOffset + 512);
    expect(src.bytes).toBeLessThan(header.dataOffset + 512);
  });
});

const allTypesMetadata: GgufMetadataEntry[] = [
  { key: 'general.architecture', type: 'string', value: 'llama' },
  { key: 't.u8', type: 'u8', value: 255 },
  { key: 't.i8', type: 'i8', value: -128 },
  { key: 't.u16', type: 'u16', value: 65535 },
  { key: 't.i16', type: 'i16', value: -32768 },
  { key: 't.u32', type: 'u32', value: 4294967295 },
  { key: 't.i32', type: 'i32', value: -2147483648 },
  { key: 't.u64.small', type: 'u64', value: 12345 },
  { key: 't.u64.big', type: 'u64', value: 2n ** 63n + 5n },
  { key: 't.i64', type: 'i64', value: -(2n ** 60n) },
  { key: 't.f32', type: 'f32', value: 0.1 },
  { key: 't.f64', type: 'f64', value: Math.PI },
  { key: 't.bool', type: 'bool', value: true },
  { key: 't.string', type: 'string', value: 'héllo ▁wörld 🙂' },
  { key: 't.empty', type: 'string', value: '' },
  { key: 't.strings', type: 'array', itemType: 'string', value: ['a', '', '▁b', '<0x0A>'] },
  { key: 't.f32s', type: 'array', itemType: 'f32', value: [0.5, -1.25, 3] },
  { key: 't.i32s', type: 'array', itemType: 'i32', value: [1, -2, 3] },
  { key: 't.bools', type: 'array', itemType: 'bool', value: [true, false] },
  { key: 't.u64s', type: 'array', itemType: 'u64', value: [1, 2n ** 60n] },
  { key: 't.emptyarr', type: 'array', itemType: 'u8', value: [] },
];

function mixedTensors(): GgufTensorInput[] {
  const f = (n: number, seed: number) => randomF32(n, seed);
  const bf16 = (x: Float32Array) => {
    const u = new Uint16Array(x.length);
    const v = new Uint32Array(x.buffer);
    for (let i = 0; i < x.length; i++) u[i] = v[i]! >>> 16;
    return new Uint8Array(u.buffer);
  };
  return [
    { name: 'token_embd.weight', type: 'F32', shape: [10, 8], data: quantize('f32', f(80, 1)) },
    { name: 'blk.0.attn_q.weight', type: 'F16', shape: [6, 8], data: quantize('f16', f(48, 2)) },
    { name: 'blk.0.attn_k.weight', type: 'Q8_0', shape: [3, 64], data: quantize('q8_0', f(192, 3)) },
    { name: 'blk.0.attn_v.weight', type: 'Q4_0', shape: [5, 32], data: quantize('q4_0', f(160, 4)) },
    { name: 'blk.0.attn_output.weight', type: 'BF16', shape: [2, 3], data: bf16(f(6, 5)) },
    { name: 'output_norm.weight', type: 'F32', shape: [7], data: quantize('f32', f(7, 6)) },
    { name: 'rope_freqs.weight', type: 'F32', shape: [2, 2, 3], data: quantize('f32', f(12, 7)) },
  ];
}

describe('GGUF writer round trip', () => {
  for (const alignment of [32, 64, 8]) {
    it(`keeps every metadata type and tensor (alignment ${alignment})`, async () => {
      const tensors = mixedTensors();
      const bytes = writeGguf({ metadata: allTypesMetadata, tensors, alignment });
      const { header, tensors: infos } = await parse(bytes);
      expect(header.version).toBe(3);
      expect(header.alignment).toBe(alignment);
      const md = header.metadata;
      const want: Record<string, GgufValue> = {
        't.u8': 255,
        't.i8': -128,
        't.u16': 65535,
        't.i16': -32768,
        't.u32': 4294967295,
        't.i32': -2147483648,
        't.u64.small': 12345,
        't.u64.big': 2n ** 63n + 5n,
        't.i64': -(2n ** 60n),
        't.f32': 0.1,
        't.f64': Math.PI,
        't.bool': true,
        't.string': 'héllo ▁wörld 🙂',
        't.empty': '',
        't.strings': ['a', '', '▁b', '<0x0A>'],
        't.f32s': [0.5, -1.25, 3],
        't.i32s': [1, -2, 3],
        't.bools': [true, false],
        't.u64s': [1, 2n ** 60n],
        't.emptyarr': [],
      };
      for (const [k, v] of Object.entries(want)) expect(md.get(k), k).toEqual(v);
      expect(header.metadataTypes.get('t.u64.big')).toBe('u64');
      expect(header.metadataTypes.get('t.strings')).toBe('array');
      expect(infos).toHaveLength(tensors.length);
      for (const [i, t] of tensors.entries()) {
        const info = infos[i]!;
        expect(info.sourceName).toBe(t.name);
        expect(info.dtype).toBe(t.type);
        expect(info.shape).toEqual(t.shape);
        expect(info.byteLength).toBe(t.data.byteLength);
        expect(info.offset % alignment).toBe(0);
        expect(bytes.subarray(info.offset, info.offset + info.byteLength)).toEqual(t.data);
      }
      expect(infos.map((t) => t.name)).toEqual(['embed', 'layers.0.q', 'layers.0.k', 'layers.0.v', 'layers.0.o', 'final_norm', 'rope_freqs.weight']);
    });
  }

  it('stores dims innermost-first on disk', async () => {
    const bytes = writeGguf({ metadata: [], tensors: [{ name: 'x', type: 'F32', shape: [2, 3, 5], data: new Uint8Array(120) }] });
    const { header } = await parse(bytes);
    expect(header.tensors[0]!.dims).toEqual([5, 3, 2]);
  });

  it('reads a GGUF v2 file', async () => {
    const bytes = writeGguf({ metadata: allTypesMetadata.slice(0, 3), tensors: mixedTensors().slice(0, 2) });
    new DataView(bytes.buffer).setUint32(4, 2, true);
    const { header, tensors } = await parse(bytes);
    expect(header.version).toBe(2);
    expect(tensors).toHaveLength(2);
  });

  it('parses a large vocabulary header without reading the tensor data', async () => {
    const r = rng(9);
    const tokens = Array.from({ length: 60_000 }, (_, i) => `tok${i}_${Math.floor(r() * 1e6)}`);
    const big = new Uint8Array(8 << 20);
    const bytes = writeGguf({
      metadata: [
        { key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: tokens },
        { key: 'tokenizer.ggml.scores', type: 'array', itemType: 'f32', value: tokens.map((_, i) => -i) },
      ],
      tensors: [{ name: 'token_embd.weight', type: 'F32', shape: [2048, 1024], data: big }],
    });
    const src = new CountingSource(new MemoryByteSource('big.gguf', bytes));
    const header = await readGgufHeader(src, { chunkSize: 64 << 10 });
    expect(header.metadata.get('tokenizer.ggml.tokens')).toEqual(tokens);
    expect((header.metadata.get('tokenizer.ggml.scores') as number[])[59_999]).toBe(-59_999);
    expect(src.maxEnd).toBeLessThan(header.dataOffset + (64 << 10));
  });
});

describe('GGUF errors', () => {
  it('rejects a bad magic as CORRUPT_FILE', async () => {
    const b = storiesBytes.slice();
    b[0] = 0x58;
    await expectCode(parse(b), 'CORRUPT_FILE', /not a GGUF file/);
  });

  it('refuses GGUF v1 and unknown versions as UNSUPPORTED_FORMAT', async () => {
    const b = storiesBytes.slice();
    new DataView(b.buffer).setUint32(4, 1, true);
    await expectCode(parse(b), 'UNSUPPORTED_FORMAT', /version 1/);
    new DataView(b.buffer).setUint32(4, 7, true);
    await expectCode(parse(b), 'UNSUPPORTED_FORMAT', /version 7/);
    new DataView(b.buffer).setUint32(4, 3, false);
    await expectCode(parse(b), 'UNSUPPORTED_FORMAT', /big-endian/);
  });

  it('gives TRUNCATED_FILE wherever the file is cut', async () => {
    const { header, tensors } = await parse(storiesBytes);
    const lastEnd = Math.max(...tensors.map((t) => t.offset + t.byteLength));
    const cuts = [0, 3, 4, 7, 12, 20, 24, 100, 1000, 5000, header.dataOffset - 1, header.dataOffset + 10, Math.floor(storiesBytes.byteLength / 2), lastEnd - 1];
    for (const cut of cuts) {
      const e = await expectCode(parse(storiesBytes.subarray(0, cut)), 'TRUNCATED_FILE');
      expect(e.message, `cut ${cut}`).toContain('model.gguf');
    }
  });

  it('names a known but unsupported tensor type', async () => {
    // IQ2_XXS (id 16): 256 values in 66 bytes, codebook-based; not one Hearth reads
    const bytes = writeGguf({ metadata: [], tensors: [{ name: 'blk.0.attn_q.weight', type: 16, shape: [4, 256], data: new Uint8Array(4 * 66) }] });
    const e = await expectCode(parse(bytes), 'UNSUPPORTED_TENSOR_TYPE', /tensor blk\.0\.attn_q\.weight has type IQ2_XXS, which Hearth does not support yet/);
    expect(e.details).toMatchObject({ tensor: 'blk.0.attn_q.weight', typeName: 'IQ2_XXS' });
    expect(e.hint).toMatch(/Q4_K_M/);
  });

  it('says when a tensor type id is unknown', async () => {
    const bytes = writeGguf({ metadata: [], tensors: [{ name: 'blk.1.ffn_up.weight', type: 99, shape: [4, 32], data: new Uint8Array(64) }] });
    await expectCode(parse(bytes), 'UNSUPPORTED_TENSOR_TYPE', /unknown ggml type id 99/);
  });

  it('leaves out extra tensors in types it cannot load', async () => {
    const bytes = writeGguf({
      metadata: [],
      tensors: [
        { name: 'token_embd.weight', type: 'F32', shape: [2, 4], data: new Uint8Array(32) },
        { name: 'some_extra.weight', type: 26 /* I32 */, shape: [4], data: new Uint8Array(16) },
      ],
    });
    const { tensors } = await parse(bytes);
    expect(tensors.map((t) => t.name)).toEqual(['embed']);
  });

  it('rejects a misaligned tensor offset and an impossible string length as CORRUPT_FILE', async () => {
    const bytes = writeGguf({ metadata: [{ key: 'k', type: 'string', value: 'v' }], tensors: [{ name: 'x', type: 'F32', shape: [8], data: new Uint8Array(32) }] });
    const b = bytes.slice();
    // the tensor's offset is the last field of the tensor directory
    new DataView(b.buffer).setBigUint64(findTensorInfoEnd(bytes) - 8, 4n, true);
    await expectCode(parse(b), 'CORRUPT_FILE', /alignment/);
    const c = bytes.slice();
    new DataView(c.buffer).setBigUint64(24, 2n ** 62n, true); // the first key's length
    await expectCode(parse(c), 'CORRUPT_FILE', /impossible string length/);
  });

  it('rejects an impossible tensor count', async () => {
    const b = storiesBytes.slice();
    new DataView(b.buffer).setBigUint64(8, 2n ** 60n, true);
    await expectCode(parse(b), 'CORRUPT_FILE', /impossible number of tensors/);
  });

  it('rejects quantized rows that are not whole blocks', async () => {
    const bytes = writeGguf({ metadata: [], tensors: [{ name: 'blk.0.attn_q.weight', type: 8, shape: [2, 48], data: new Uint8Array(68) }] });
    await expectCode(parse(bytes), 'CORRUPT_FILE', /not a multiple of 32/);
  });

  it('honours an abort signal', async () => {
    const ctrl = new AbortController();
    ctrl.abort();
    await expectCode(readGgufHeader(new MemoryByteSource('m.gguf', storiesBytes), { signal: ctrl.signal }), 'ABORTED');
  });

  it('validates writer input', () => {
    expect(() => writeGguf({ metadata: [], tensors: [{ name: 'x', type: 'Q8_0', shape: [2, 32], data: new Uint8Array(10) }] })).toThrow(/needs 68 bytes/);
    expect(() => writeGguf({ metadata: [{ key: 'a', type: 'u32', value: 'x' }], tensors: [] })).toThrow(HearthError);
    expect(tensorByteLength('Q4_0', [3, 64])).toBe(3 * 2 * 18);
  });
});

/** Offset just past the tensor directory of a file with one tensor named 'x' and one dim. */
function findTensorInfoEnd(bytes: Uint8Array): number {
  // name 'x': u64 len + 1, n_dims u32, dims u64, type u32, offset u64
  const nameAt = indexOfSeq(bytes, [1, 0, 0, 0, 0, 0, 0, 0, 0x78]);
  return nameAt + 9 + 4 + 8 + 4 + 8;
}

function indexOfSeq(b: Uint8Array, seq: number[]): number {
  outer: for (let i = 0; i + seq.length <= b.length; i++) {
    for (let j = 0; j < seq.length; j++) if (b[i + j] !== seq[j]) continue outer;
    return i;
  }
  return -1;
}
