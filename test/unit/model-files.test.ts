import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HearthError, type HearthErrorCode } from '../../src/errors.js';
import { openModel, readTensor } from '../../src/formats/model-files.js';
import { writeSafetensors } from '../../src/formats/safetensors-writer.js';
import type { ByteSource, ModelSource } from '../../src/hub/byte-source.js';
import { MemoryModelSource } from '../../src/hub/memory.js';
import { resolveModelSource } from '../../src/hub/resolve.js';
import { quantize } from '../../src/quant/formats.js';
import { tinyGguf, tinyHfConfig, tinyHfFiles, tinyTensors } from '../helpers/tiny-model.js';

const STORIES_DIR = '/work/shared/models/stories260K';
const storiesBytes = new Uint8Array(readFileSync(`${STORIES_DIR}/stories260K.gguf`));

async function expectCode(p: Promise<unknown>, code: HearthErrorCode, message?: RegExp): Promise<HearthError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).toBeInstanceOf(HearthError);
  const he = err as HearthError;
  expect(he.code, he.message).toBe(code);
  if (message) expect(he.message).toMatch(message);
  return he;
}

/** Wraps a source and records every byte range read. */
function counting(inner: ModelSource): ModelSource & { reads: Array<{ file: string; offset: number; length: number }> } {
  const reads: Array<{ file: string; offset: number; length: number }> = [];
  return {
    reads,
    id: inner.id,
    entry: inner.entry,
    list: (s) => inner.list(s),
    has: (f, s) => inner.has(f, s),
    readText: (f, s) => inner.readText(f, s),
    async open(file, signal) {
      const src = await inner.open(file, signal);
      const wrapped: ByteSource = {
        name: src.name,
        size: () => src.size(),
        read: (offset, length, sig) => {
          reads.push({ file, offset, length });
          return src.read(offset, length, sig);
        },
      };
      return wrapped;
    },
  };
}

describe('openModel on stories260K (GGUF, local file)', () => {
  it('finds the file, its config and its tensors', async () => {
    for (const spec of [STORIES_DIR, `${STORIES_DIR}/stories260K.gguf`]) {
      const source = await resolveModelSource(spec);
      const m = await openModel(source);
      expect(m.format).toBe('gguf');
      expect(m.files).toEqual(['stories260K.gguf']);
      expect(m.config).toMatchObject({
        architecture: 'llama',
        hiddenSize: 64,
        intermediateSize: 172,
        numLayers: 5,
        numHeads: 8,
        numKvHeads: 4,
        headDim: 8,
        vocabSize: 512,
        rmsNormEps: 1e-5,
        ropeTheta: 10000,
        rotaryDim: 8,
        ropeStyle: 'interleaved',
        ropeScaling: null,
        tieWordEmbeddings: false,
        attentionBias: false,
        qkNorm: false,
        bosTokenId: 1,
        eosTokenIds: [2],
      });
      expect(m.tensors.size).toBe(48);
      expect([...m.tensors.values()].every((t) => t.dtype === 'F32')).toBe(true);
      expect(m.totalBytes).toBe([...m.tensors.values()].reduce((s, t) => s + t.byteLength, 0));
      expect((m.ggufMetadata!.get('tokenizer.ggml.tokens') as string[]).length).toBe(512);
      expect(m.hfFiles).toBeUndefined();
    }
  });

  it('reads one tensor without reading the file: output.weight equals token_embd.weight', async () => {
    const source = counting(await resolveModelSource(`${STORIES_DIR}/stories260K.gguf`));
    const m = await openModel(source);
    source.reads.length = 0;
    const embed = await readTensor(source, m.tensors.get('embed')!);
    const out = await readTensor(source, m.tensors.get('lm_head')!);
    expect(embed.byteLength).toBe(512 * 64 * 4);
    expect(Buffer.compare(embed, out)).toBe(0);
    expect(source.reads).toEqual([
      { file: 'stories260K.gguf', offset: m.tensors.get('embed')!.offset, length: 512 * 64 * 4 },
      { file: 'stories260K.gguf', offset: m.tensors.get('lm_head')!.offset, length: 512 * 64 * 4 },
    ]);
    const norm = new Float32Array((await readTensor(source, m.tensors.get('layers.0.attn_norm')!)).buffer);
    expect(norm.length).toBe(64);
    expect(norm.every(Number.isFinite)).toBe(true);
  });

  it('gives TRUNCATED_FILE for a cut file, wherever the cut', async () => {
    const full = await openModel(new MemoryModelSource({ 'm.gguf': storiesBytes }));
    const lastEnd = Math.max(...[...full.tensors.values()].map((t) => t.offset + t.byteLength));
    for (const cut of [2, 16, 700, 9000, 14000, 200_000, 800_000, lastEnd - 1]) {
      await expectCode(openModel(new MemoryModelSource({ 'm.gguf': storiesBytes.subarray(0, cut) })), 'TRUNCATED_FILE');
    }
  });

  it('reports a corrupt magic and an unsupported architecture', async () => {
    const bad = storiesBytes.slice();
    bad.set([0x47, 0x47, 0x4d, 0x4c], 0);
    await expectCode(openModel(new MemoryModelSource({ 'm.gguf': bad })), 'CORRUPT_FILE', /not a GGUF file/);
    const gemma = tinyGguf({}, { metadata: [] });
    // rename the architecture in place: same length keeps the file valid
    const patched = replaceAscii(gemma, 'general.architecture', 'llama', 'gemma');
    await expectCode(openModel(new MemoryModelSource({ 'm.gguf': patched })), 'UNSUPPORTED_ARCHITECTURE', /gemma/);
  });
});

describe('openModel on synthetic models', () => {
  it('opens a Hugging Face folder with its side files', async () => {
    const m = await openModel(new MemoryModelSource(tinyHfFiles({ arch: 'qwen2' })));
    expect(m.format).toBe('safetensors');
    expect(m.files).toEqual(['model.safetensors']);
    expect(m.config).toMatchObject({ architecture: 'qwen2', attentionBias: true, ropeStyle: 'half', hiddenSize: 32, numLayers: 2, eosTokenIds: [2, 3] });
    expect(m.hfFiles!.tokenizerJson).toMatchObject({ model: { type: 'BPE' } });
    expect(m.hfFiles!.tokenizerConfig).toEqual({ eos_token: '</s>' });
    expect(m.hfFiles!.generationConfig).toEqual({ eos_token_id: [2, 3] });
    expect(m.hfFiles!.configJson).toMatchObject({ architectures: ['Qwen2ForCausalLM'] });
    expect(m.hfFiles!.vocabJson).toBeUndefined();
    const want = tinyTensors({ arch: 'qwen2' });
    expect(m.tensors.size).toBe(want.size);
    for (const [name, t] of want) {
      const info = m.tensors.get(name)!;
      expect(info.shape).toEqual(t.shape);
      expect(new Float32Array((await readTensor(new MemoryModelSource(tinyHfFiles({ arch: 'qwen2' })), info)).buffer)).toEqual(t.data);
    }
  });

  it('opens a sharded checkpoint through its index', async () => {
    const files = tinyHfFiles({ arch: 'qwen3', tied: true }, 3);
    const source = new MemoryModelSource(files);
    const m = await openModel(source);
    expect(m.files).toEqual(['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
    expect(new Set([...m.tensors.values()].map((t) => t.file)).size).toBe(3);
    expect(m.config).toMatchObject({ architecture: 'qwen3', qkNorm: true, tieWordEmbeddings: true });
    for (const [name, t] of tinyTensors({ arch: 'qwen3', tied: true })) {
      expect(new Float32Array((await readTensor(source, m.tensors.get(name)!)).buffer), name).toEqual(t.data);
    }
    // a shard that lacks a tensor the index places there
    const broken = { ...files };
    const idx = JSON.parse(files['model.safetensors.index.json'] as string) as { weight_map: Record<string, string> };
    idx.weight_map['model.extra.weight'] = 'model-00002-of-00003.safetensors';
    broken['model.safetensors.index.json'] = JSON.stringify(idx);
    await expectCode(openModel(new MemoryModelSource(broken)), 'CORRUPT_FILE', /model\.extra\.weight/);
    // a missing shard
    const missing = { ...files };
    delete missing['model-00003-of-00003.safetensors'];
    await expectCode(openModel(new MemoryModelSource(missing)), 'MISSING_FILE', /model-00003-of-00003/);
  });

  it('opens a GGUF with rope_freqs and a chosen file among several', async () => {
    const factors = new Float32Array([1, 2, 4, 8]);
    const files = { 'a.gguf': tinyGguf({}, { ropeFreqs: factors }), 'b.gguf': tinyGguf({ arch: 'qwen2' }) };
    const e = await expectCode(openModel(new MemoryModelSource(files)), 'INVALID_ARGUMENT', /several GGUF files: a\.gguf, b\.gguf/);
    expect(e.details).toEqual({ files: ['a.gguf', 'b.gguf'] });
    const a = await openModel(new MemoryModelSource(files), { file: 'a.gguf' });
    expect(a.config.ropeFreqFactors).toEqual([1, 2, 4, 8]);
    expect(a.config.ropeStyle).toBe('interleaved');
    expect(a.tensors.get('rope_freqs.weight')!.shape).toEqual([4]);
    const b = await openModel(new MemoryModelSource(files, 'memory:', 'b.gguf'));
    expect(b.config).toMatchObject({ architecture: 'qwen2', ropeStyle: 'half', attentionBias: true, ropeFreqFactors: null });
  });

  it('explains what is missing', async () => {
    await expectCode(openModel(new MemoryModelSource({ 'README.md': 'hi' })), 'MISSING_FILE', /No model weights found.*README\.md/);
    const noConfig = tinyHfFiles();
    delete noConfig['config.json'];
    await expectCode(openModel(new MemoryModelSource(noConfig)), 'MISSING_FILE', /config\.json/);
    await expectCode(openModel(new MemoryModelSource(tinyHfFiles()), { file: 'weights.bin' }), 'UNSUPPORTED_FORMAT', /weights\.bin/);
  });

  it('checks tensors against the config', async () => {
    const files = tinyHfFiles();
    files['config.json'] = JSON.stringify({ ...tinyHfConfig(), intermediate_size: 48 });
    await expectCode(openModel(new MemoryModelSource(files)), 'CORRUPT_FILE', /model\.layers\.0\.mlp\.gate_proj\.weight has shape \[64, 32\], but the config implies \[48, 32\]/);
    const three = tinyHfFiles();
    three['config.json'] = JSON.stringify({ ...tinyHfConfig(), num_hidden_layers: 3 });
    await expectCode(openModel(new MemoryModelSource(three)), 'CORRUPT_FILE', /num_hidden_layers declares 3 layers, but the file holds tensors of only 2/);
    const unsupported = { ...tinyHfFiles(), 'config.json': JSON.stringify({ ...tinyHfConfig(), architectures: ['Gemma2ForCausalLM'] }) };
    await expectCode(openModel(new MemoryModelSource(unsupported)), 'UNSUPPORTED_ARCHITECTURE', /Gemma2ForCausalLM/);
    const badJson = { ...tinyHfFiles(), 'config.json': '{"architectures": [' };
    await expectCode(openModel(new MemoryModelSource(badJson)), 'CORRUPT_FILE', /config\.json is not valid JSON/);
  });

  it('refuses a corrupt safetensors header and duplicate canonical names', async () => {
    const files = tinyHfFiles();
    const st = (files['model.safetensors'] as Uint8Array).slice();
    st[8] = 0x5d; // ']' for the JSON header's opening brace
    await expectCode(openModel(new MemoryModelSource({ ...files, 'model.safetensors': st })), 'CORRUPT_FILE', /not valid JSON/);
    const dup = writeSafetensors([
      { name: 'model.norm.weight', dtype: 'F32', shape: [1], data: quantize('f32', new Float32Array(1)) },
      { name: 'norm.weight', dtype: 'F32', shape: [1], data: quantize('f32', new Float32Array(1)) },
    ]);
    await expectCode(openModel(new MemoryModelSource({ ...files, 'model.safetensors': dup })), 'CORRUPT_FILE', /final_norm appears twice/);
  });

  it('honours an abort signal', async () => {
    const c = new AbortController();
    c.abort();
    await expectCode(openModel(new MemoryModelSource({ 'm.gguf': storiesBytes }), { signal: c.signal }), 'ABORTED');
  });
});

/** Replaces the string value that follows `key` (same length) in a GGUF file. */
function replaceAscii(bytes: Uint8Array, key: string, from: string, to: string): Uint8Array {
  const b = bytes.slice();
  const text = Buffer.from(b).toString('latin1');
  const at = text.indexOf(from, text.indexOf(key) + key.length);
  b.set(Buffer.from(to, 'latin1'), at);
  return b;
}
