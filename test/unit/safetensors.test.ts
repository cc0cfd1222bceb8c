import { describe, expect, it } from 'vitest';
import { HearthError, type HearthErrorCode } from '../../src/errors.js';
import { parseSafetensorsIndex, readSafetensorsHeader, safetensorsTensorInfos } from '../../src/formats/safetensors.js';
import { writeSafetensors, writeSafetensorsIndex, type SafetensorsTensorInput } from '../../src/formats/safetensors-writer.js';
import { MemoryByteSource } from '../../src/hub/memory.js';
import { quantize } from '../../src/quant/formats.js';
import { f32ToBf16Bits } from '../../src/util/f16.js';
import { randomF32 } from '../helpers/random.js';

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

const bf16 = (x: Float32Array) => new Uint8Array(Uint16Array.from(x, (v) => f32ToBf16Bits(v)).buffer);

function sample(): SafetensorsTensorInput[] {
  return [
    { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [10, 6], data: bf16(randomF32(60, 1)) },
    { name: 'model.layers.0.self_attn.q_proj.weight', dtype: 'F16', shape: [6, 6], data: quantize('f16', randomF32(36, 2)) },
    { name: 'model.layers.0.self_attn.q_proj.bias', dtype: 'F32', shape: [6], data: quantize('f32', randomF32(6, 3)) },
    { name: 'model.layers.0.input_layernorm.weight', dtype: 'F32', shape: [6], data: quantize('f32', randomF32(6, 4)) },
    { name: 'model.norm.weight', dtype: 'F32', shape: [6], data: quantize('f32', randomF32(6, 5)) },
    { name: 'lm_head.weight', dtype: 'F32', shape: [10, 6], data: quantize('f32', randomF32(60, 6)) },
    { name: 'model.layers.0.self_attn.rotary_emb.inv_freq', dtype: 'F32', shape: [1, 3], data: quantize('f32', randomF32(3, 7)) },
  ];
}

const parse = async (bytes: Uint8Array, name = 'model.safetensors') => {
  const header = await readSafetensorsHeader(new MemoryByteSource(name, bytes));
  return { header, tensors: safetensorsTensorInfos(header, name) };
};

/** A file with a hand-written header, for corrupt cases. */
function withHeader(header: string, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.byteLength + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  return out;
}

describe('safetensors round trip', () => {
  it('writes and reads back descriptors, bytes and metadata', async () => {
    const input = sample();
    const bytes = writeSafetensors(input, { format: 'pt' });
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLen % 8).toBe(0);
    const { header, tensors } = await parse(bytes);
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(header.dataOffset).toBe(8 + headerLen);
    expect(tensors.map((t) => t.name)).toEqual(['embed', 'layers.0.q', 'layers.0.q_bias', 'layers.0.attn_norm', 'final_norm', 'lm_head', 'model.layers.0.self_attn.rotary_emb.inv_freq']);
    for (const [i, t] of input.entries()) {
      const info = tensors[i]!;
      expect(info).toMatchObject({ sourceName: t.name, dtype: t.dtype, shape: t.shape, byteLength: t.data.byteLength, file: 'model.safetensors' });
      expect(bytes.subarray(info.offset, info.offset + info.byteLength)).toEqual(t.data);
    }
  });

  it('accepts names without the model. prefix', async () => {
    const { tensors } = await parse(writeSafetensors([{ name: 'layers.2.mlp.down_proj.weight', dtype: 'F32', shape: [1], data: new Uint8Array(4) }, { name: 'norm.weight', dtype: 'F32', shape: [1], data: new Uint8Array(4) }]));
    expect(tensors.map((t) => t.name)).toEqual(['layers.2.down', 'final_norm']);
  });

  it('writes and parses a shard index', () => {
    const text = writeSafetensorsIndex({ 'a.weight': 'model-00001-of-00002.safetensors', 'b.weight': 'model-00002-of-00002.safetensors' }, 123);
    const idx = parseSafetensorsIndex(text);
    expect([...idx.weightMap]).toEqual([
      ['a.weight', 'model-00001-of-00002.safetensors'],
      ['b.weight', 'model-00002-of-00002.safetensors'],
    ]);
    expect(idx.metadata).toEqual({ total_size: 123 });
  });
});

describe('safetensors errors', () => {
  it('gives TRUNCATED_FILE wherever the file is cut', async () => {
    const bytes = writeSafetensors(sample());
    const headerEnd = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
    for (const cut of [0, 5, 8, 9, headerEnd - 1, headerEnd + 1, bytes.byteLength - 1]) {
      await expectCode(parse(bytes.subarray(0, cut)), 'TRUNCATED_FILE', /model\.safetensors/);
    }
  });

  it('rejects an absurd header length as CORRUPT_FILE', async () => {
    const b = writeSafetensors(sample());
    new DataView(b.buffer).setBigUint64(0, 2n ** 40n, true);
    await expectCode(parse(b), 'CORRUPT_FILE', /not a safetensors file/);
    new DataView(b.buffer).setBigUint64(0, 0n, true);
    await expectCode(parse(b), 'CORRUPT_FILE');
  });

  it('rejects a corrupt JSON header', async () => {
    const b = writeSafetensors(sample());
    b[8 + 5] = 0x7b; // '{' in the middle of a key
    b[8 + 20] = 0x00;
    await expectCode(parse(b), 'CORRUPT_FILE', /not valid JSON/);
    await expectCode(parse(withHeader('[1,2]', 0)), 'CORRUPT_FILE', /not a JSON object/);
  });

  it('rejects bad descriptors, naming the tensor', async () => {
    await expectCode(parse(withHeader('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 4)), 'TRUNCATED_FILE', /tensor w ends at byte/);
    await expectCode(parse(withHeader('{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', 8)), 'CORRUPT_FILE', /tensor w \(F32 \[3\]\) should take 12 bytes/);
    await expectCode(parse(withHeader('{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}', 8)), 'CORRUPT_FILE', /tensor w has invalid data_offsets/);
    await expectCode(parse(withHeader('{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', 8)), 'CORRUPT_FILE', /tensor w has an invalid shape/);
    await expectCode(parse(withHeader('{"w":{"shape":[2],"data_offsets":[0,8]}}', 8)), 'CORRUPT_FILE', /tensor w has no dtype/);
    await expectCode(parse(withHeader('{"w":5}', 8)), 'CORRUPT_FILE', /tensor w/);
  });

  it('refuses dtypes it cannot load for model tensors, naming dtype and tensor', async () => {
    const b = writeSafetensors([{ name: 'model.layers.0.mlp.up_proj.weight', dtype: 'I64', shape: [2], data: new Uint8Array(16) }]);
    const e = await expectCode(parse(b), 'UNSUPPORTED_TENSOR_TYPE', /model\.layers\.0\.mlp\.up_proj\.weight has dtype I64/);
    expect(e.details).toMatchObject({ dtype: 'I64' });
    const fp8 = withHeader('{"model.norm.weight":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}', 4);
    await expectCode(parse(fp8), 'UNSUPPORTED_TENSOR_TYPE', /F8_E4M3/);
    // an unknown dtype on an extra tensor is left out rather than failing the model
    const extra = writeSafetensors([
      { name: 'model.norm.weight', dtype: 'F32', shape: [1], data: new Uint8Array(4) },
      { name: 'position_ids', dtype: 'I64', shape: [2], data: new Uint8Array(16) },
    ]);
    expect((await parse(extra)).tensors.map((t) => t.name)).toEqual(['final_norm']);
  });

  it('rejects a broken index', () => {
    expect(() => parseSafetensorsIndex('{')).toThrow(/not valid JSON/);
    expect(() => parseSafetensorsIndex('{"metadata":{}}')).toThrow(/weight_map/);
    expect(() => parseSafetensorsIndex('{"weight_map":{"a":3}}')).toThrow(/not a file name/);
    try {
      parseSafetensorsIndex('{"weight_map":{}}');
    } catch (e) {
      expect((e as HearthError).code).toBe('CORRUPT_FILE');
    }
  });

  it('validates writer input', () => {
    expect(() => writeSafetensors([{ name: 'x', dtype: 'F16', shape: [3], data: new Uint8Array(4) }])).toThrow(/needs 6 bytes/);
    expect(() => writeSafetensors([{ name: '__metadata__', dtype: 'F16', shape: [1], data: new Uint8Array(2) }])).toThrow(HearthError);
  });
});
