/**
 * Counts and sizes read from a model file are checked against the file, the tensors present and
 * sane limits before anything is allocated for them (issue 16): each failure is a typed error
 * naming the field, the value and the file, and comes quickly.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HearthError, type HearthErrorCode } from '../../src/errors.js';
import { openModel } from '../../src/formats/model-files.js';
import { writeGguf, type GgufMetadataEntry } from '../../src/formats/gguf-writer.js';
import { sourceTensorName } from '../../src/formats/tensors.js';
import { MemoryModelSource } from '../../src/hub/memory.js';
import { createEngine } from '../../src/node.js';
import { quantize } from '../../src/quant/formats.js';
import { tinyGguf, tinyHfConfig, tinyHfFiles, tinySpec, tinyTensors, type TinySpec } from '../helpers/tiny-model.js';

async function expectCode(p: Promise<unknown>, code: HearthErrorCode, message?: RegExp): Promise<HearthError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(HearthError);
  const he = err as HearthError;
  expect(he.code, he.message).toBe(code);
  if (message) expect(he.message).toMatch(message);
  return he;
}

/** tinyGguf's file with some metadata values replaced (same keys, new value and type). */
const ggufWith = (spec: TinySpec, replace: Record<string, Omit<GgufMetadataEntry, 'key'>>): Uint8Array => tinyGguf(spec, { replace });

const gguf = (bytes: Uint8Array) => new MemoryModelSource({ 'model.gguf': bytes });
const hf = (config: Record<string, unknown>, spec: TinySpec = {}) => new MemoryModelSource({ ...tinyHfFiles(spec), 'config.json': JSON.stringify(config) });

describe('huge counts are refused before anything is sized from them', () => {
  for (const [value, type] of [
    [2 ** 31, 'u32'],
    [2 ** 32 - 1, 'u32'],
    [1e9, 'u32'],
    [2n ** 40n, 'u64'],
  ] as const) {
    it(`GGUF llama.block_count = ${value} (${type})`, async () => {
      const t0 = performance.now();
      const e = await expectCode(openModel(gguf(ggufWith({}, { 'llama.block_count': { type, value } }))), 'CORRUPT_FILE', /model\.gguf: llama\.block_count is \d+, beyond the 1024/);
      expect(e.details).toMatchObject({ file: 'model.gguf', field: 'llama.block_count', value: Number(value) });
      expect(performance.now() - t0).toBeLessThan(2000);
    });
  }

  for (const value of [2 ** 31, 1e12]) {
    it(`config.json num_hidden_layers = ${value}`, async () => {
      const t0 = performance.now();
      const e = await expectCode(openModel(hf({ ...tinyHfConfig(), num_hidden_layers: value })), 'CORRUPT_FILE', /config\.json: num_hidden_layers is \d+, beyond the 1024/);
      expect(e.details).toMatchObject({ file: 'config.json', field: 'num_hidden_layers', value });
      expect(performance.now() - t0).toBeLessThan(2000);
    });
  }

  it('names every other dimension field past its limit, in both formats', async () => {
    await expectCode(openModel(hf({ ...tinyHfConfig(), hidden_size: 2 ** 40, head_dim: 8 })), 'CORRUPT_FILE', /hidden_size is 1099511627776/);
    await expectCode(openModel(hf({ ...tinyHfConfig(), intermediate_size: 2 ** 31 })), 'CORRUPT_FILE', /intermediate_size is 2147483648/);
    await expectCode(openModel(hf({ ...tinyHfConfig(), max_position_embeddings: 2 ** 40 })), 'CORRUPT_FILE', /max_position_embeddings is/);
    await expectCode(openModel(gguf(ggufWith({}, { 'llama.feed_forward_length': { type: 'u64', value: 2n ** 36n } }))), 'CORRUPT_FILE', /llama\.feed_forward_length is 68719476736/);
    await expectCode(openModel(gguf(ggufWith({}, { 'llama.attention.head_count': { type: 'u32', value: 2 ** 31 } }))), 'CORRUPT_FILE', /llama\.attention\.head_count is 2147483648/);
    await expectCode(openModel(gguf(ggufWith({}, { 'llama.context_length': { type: 'u64', value: 2n ** 50n } }))), 'CORRUPT_FILE', /llama\.context_length is/);
  });

  it('refuses a GGUF alignment that is no sane power of two', async () => {
    // written as 32, then patched: the writer itself would pad to the absurd alignment
    const bytes = tinyGguf({}, { metadata: [{ key: 'general.alignment', type: 'u64', value: 32 }] });
    const key = new TextEncoder().encode('general.alignment');
    const at = Buffer.from(bytes).indexOf(Buffer.from(key)) + key.length + 4;
    new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(at, 2n ** 33n, true);
    await expectCode(openModel(gguf(bytes)), 'CORRUPT_FILE', /general\.alignment 8589934592/);
  });

  it('through createEngine (a GGUF file on disk): a typed error, quickly, and the process lives', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-limits-'));
    try {
      const file = join(dir, 'huge.gguf');
      writeFileSync(file, ggufWith({}, { 'llama.block_count': { type: 'u32', value: 2 ** 31 } }));
      const t0 = performance.now();
      await expectCode(createEngine({ model: file }), 'CORRUPT_FILE', /huge\.gguf: llama\.block_count is 2147483648/);
      expect(performance.now() - t0).toBeLessThan(20_000);
      const folder = join(dir, 'hf');
      mkdirSync(folder);
      for (const [name, data] of Object.entries({ ...tinyHfFiles(), 'config.json': JSON.stringify({ ...tinyHfConfig(), num_hidden_layers: 1e12 }) })) writeFileSync(join(folder, name), data);
      await expectCode(createEngine({ model: folder }), 'CORRUPT_FILE', /num_hidden_layers is 1000000000000/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('declared layers and stored tensors must agree', () => {
  for (const declared of [1, 3]) {
    it(`GGUF: 5 layers stored, block_count ${declared}`, async () => {
      const e = await expectCode(
        openModel(gguf(ggufWith({ layers: 5 }, { 'llama.block_count': { type: 'u32', value: declared } }))),
        'CORRUPT_FILE',
        new RegExp(`model\\.gguf: llama\\.block_count declares ${declared} layers, but the file holds tensors of 5 \\(up to blk\\.4\\.`),
      );
      expect(e.details).toMatchObject({ field: 'llama.block_count', declared, stored: 5 });
    });
  }

  it('GGUF: 2 layers stored, block_count 5', async () => {
    await expectCode(openModel(gguf(ggufWith({}, { 'llama.block_count': { type: 'u32', value: 5 } }))), 'CORRUPT_FILE', /llama\.block_count declares 5 layers, but the file holds tensors of only 2/);
  });

  it('safetensors: 5 layers stored, num_hidden_layers 3, and the reverse', async () => {
    await expectCode(openModel(hf({ ...tinyHfConfig(), num_hidden_layers: 3 }, { layers: 5 })), 'CORRUPT_FILE', /num_hidden_layers declares 3 layers, but the file holds tensors of 5 \(up to model\.layers\.4\./);
    await expectCode(openModel(hf({ ...tinyHfConfig(), num_hidden_layers: 4 })), 'CORRUPT_FILE', /num_hidden_layers declares 4 layers, but the file holds tensors of only 2/);
  });

  it('a lone tensor of a far layer is named, not allocated for', async () => {
    const s = tinySpec();
    const t = tinyTensors();
    const tensors = [...t.entries()].map(([name, v]) => ({ name: sourceTensorName(name, 'gguf'), type: 'F32' as const, shape: v.shape, data: quantize('f32', v.data) }));
    tensors.push({ name: 'blk.999999999.attn_norm.weight', type: 'F32', shape: [s.hidden], data: quantize('f32', new Float32Array(s.hidden)) });
    const bytes = writeGguf({
      metadata: [
        { key: 'general.architecture', type: 'string', value: 'llama' },
        { key: 'llama.embedding_length', type: 'u32', value: s.hidden },
        { key: 'llama.block_count', type: 'u32', value: s.layers },
        { key: 'llama.feed_forward_length', type: 'u32', value: s.intermediate },
        { key: 'llama.attention.head_count', type: 'u32', value: s.heads },
        { key: 'llama.attention.head_count_kv', type: 'u32', value: s.kvHeads },
        { key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: Array.from({ length: s.vocab }, (_, i) => `t${i}`) },
      ],
      tensors,
    });
    await expectCode(openModel(gguf(bytes)), 'CORRUPT_FILE', /declares 2 layers, but the file holds tensors of 1000000000 \(up to blk\.999999999\.attn_norm\.weight\)/);
  });
});

describe('regressions found by npm run fuzz', () => {
  it('a 64-bit GGUF value where a float is expected is named, not a TypeError (seed 16, case 7645)', async () => {
    const e = await expectCode(
      openModel(gguf(epsilonAsI64())),
      'CORRUPT_FILE',
      /llama\.attention\.layer_norm_rms_epsilon must be a positive number, got "9007199254740992"/,
    );
    expect(e.details).toMatchObject({ field: 'llama.attention.layer_norm_rms_epsilon', value: '9007199254740992' });
  });
});

/** tinyGguf's epsilon written as an i64 beyond 2^53 (read back as a bigint). */
function epsilonAsI64(): Uint8Array {
  const s = tinySpec();
  const t = tinyTensors();
  const tensors = [...t.entries()].map(([name, v]) => ({ name: sourceTensorName(name, 'gguf'), type: 'F32' as const, shape: v.shape, data: quantize('f32', v.data) }));
  return writeGguf({
    metadata: [
      { key: 'general.architecture', type: 'string', value: 'llama' },
      { key: 'llama.embedding_length', type: 'u32', value: s.hidden },
      { key: 'llama.block_count', type: 'u32', value: s.layers },
      { key: 'llama.feed_forward_length', type: 'u32', value: s.intermediate },
      { key: 'llama.attention.head_count', type: 'u32', value: s.heads },
      { key: 'llama.attention.head_count_kv', type: 'u32', value: s.kvHeads },
      { key: 'llama.attention.layer_norm_rms_epsilon', type: 'i64', value: 2n ** 53n },
      { key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: Array.from({ length: s.vocab }, (_, i) => `t${i}`) },
    ],
    tensors,
  });
}
