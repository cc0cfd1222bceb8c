import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HearthError, type HearthErrorCode } from '../../src/errors.js';
import { configFromGguf, configFromHf, plainFamilyFields, validateConfig, type ModelConfig } from '../../src/formats/config.js';
import type { GgufValue } from '../../src/formats/gguf.js';
import type { TensorInfo } from '../../src/formats/tensors.js';

function expectCode(fn: () => unknown, code: HearthErrorCode, message?: RegExp): HearthError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).toBeInstanceOf(HearthError);
  const he = err as HearthError;
  expect(he.code, he.message).toBe(code);
  if (message) expect(he.message).toMatch(message);
  return he;
}

/** Descriptors with the given names and shapes; config code only looks at names and shapes. */
function tensors(entries: Record<string, number[]>): Map<string, TensorInfo> {
  return new Map(Object.entries(entries).map(([name, shape]) => [name, { name, sourceName: name, file: 'f', offset: 0, byteLength: 0, dtype: 'F32', shape }]));
}

const smollm2 = JSON.parse(readFileSync('/work/shared/models/smollm2-135m-instruct-tokenizer/config.json', 'utf8')) as Record<string, unknown>;

const qwen25 = {
  architectures: ['Qwen2ForCausalLM'],
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  vocab_size: 151936,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  max_position_embeddings: 32768,
  tie_word_embeddings: true,
  bos_token_id: 151643,
  eos_token_id: 151645,
  sliding_window: 32768,
  use_sliding_window: false,
};

describe('config from Hugging Face config.json', () => {
  it('normalizes SmolLM2-135M', () => {
    const c = configFromHf(smollm2, { tensors: new Map() });
    expect(c).toEqual<ModelConfig>({
      architecture: 'llama',
      hiddenSize: 576,
      intermediateSize: 1536,
      numLayers: 30,
      numHeads: 9,
      numKvHeads: 3,
      headDim: 64,
      vocabSize: 49152,
      rmsNormEps: 1e-5,
      ropeTheta: 100000,
      rotaryDim: 64,
      ropeScaling: null,
      ropeFreqFactors: null,
      ropeStyle: 'half',
      tieWordEmbeddings: true,
      attentionBias: false,
      qkNorm: false,
      maxPositionEmbeddings: 8192,
      bosTokenId: 1,
      eosTokenIds: [2],
      ...plainFamilyFields({ headDim: 64 }),
      slidingLayers: new Array(30).fill(false),
    });
  });

  it('takes biases, q/k norms, tying and vocab from the tensors', () => {
    const t = tensors({ embed: [151936, 896], 'layers.0.q_bias': [896] });
    const c = configFromHf(qwen25, { tensors: t, generationConfig: { eos_token_id: [151645, 151643], bos_token_id: 151643 } });
    expect(c).toMatchObject({ architecture: 'qwen2', attentionBias: true, qkNorm: false, tieWordEmbeddings: true, headDim: 64, ropeTheta: 1e6 });
    expect(c.eosTokenIds).toEqual([151645, 151643]);
    // an lm_head tensor with the flag off: untied
    const untied = configFromHf({ ...qwen25, tie_word_embeddings: false }, { tensors: tensors({ embed: [151936, 896], lm_head: [151936, 896] }) });
    expect(untied.tieWordEmbeddings).toBe(false);
    // no lm_head tensor: tied, whatever the flag says
    expect(configFromHf({ ...qwen25, tie_word_embeddings: false }, { tensors: tensors({ embed: [100, 896] }) })).toMatchObject({ tieWordEmbeddings: true, vocabSize: 100 });
  });

  it('reads Qwen3 with an explicit head_dim and q/k norm', () => {
    const c = configFromHf(
      { architectures: ['Qwen3ForCausalLM'], hidden_size: 1024, intermediate_size: 3072, num_hidden_layers: 28, num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128, vocab_size: 151936, rms_norm_eps: 1e-6, rope_theta: 1e6, max_position_embeddings: 40960, tie_word_embeddings: true, attention_bias: false },
      { tensors: tensors({ embed: [151936, 1024], 'layers.0.q_norm': [128] }) },
    );
    expect(c).toMatchObject({ architecture: 'qwen3', headDim: 128, rotaryDim: 128, qkNorm: true, attentionBias: false, numKvHeads: 8 });
  });

  it('reads Llama 3 and linear RoPE scaling', () => {
    const llama32 = {
      architectures: ['LlamaForCausalLM'],
      hidden_size: 2048,
      intermediate_size: 8192,
      num_hidden_layers: 16,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      head_dim: 64,
      vocab_size: 128256,
      rms_norm_eps: 1e-5,
      rope_theta: 500000,
      max_position_embeddings: 131072,
      rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
      bos_token_id: 128000,
      eos_token_id: [128001, 128008, 128009],
    };
    const c = configFromHf(llama32, { tensors: new Map() });
    expect(c.ropeScaling).toEqual({ type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    expect(c.eosTokenIds).toEqual([128001, 128008, 128009]);
    expect(c.bosTokenId).toBe(128000);
    expect(configFromHf({ ...llama32, rope_scaling: { type: 'linear', factor: 4 } }, { tensors: new Map() }).ropeScaling).toEqual({ type: 'linear', factor: 4 });
    expect(configFromHf({ ...llama32, rope_scaling: { rope_type: 'default' } }, { tensors: new Map() }).ropeScaling).toBeNull();
    expectCode(() => configFromHf({ ...llama32, rope_scaling: { rope_type: 'yarn', factor: 4 } }, { tensors: new Map() }), 'UNSUPPORTED_ARCHITECTURE', /yarn/);
    expectCode(() => configFromHf({ ...llama32, rope_scaling: { rope_type: 'llama3', factor: 8 } }, { tensors: new Map() }), 'CORRUPT_FILE', /low_freq_factor is missing/);
  });

  it('refuses unsupported architectures, naming them and listing the supported ones', () => {
    for (const arch of ['Gemma2ForCausalLM', 'PhiForCausalLM', 'MixtralForCausalLM']) {
      const e = expectCode(() => configFromHf({ ...smollm2, architectures: [arch] }, { tensors: new Map() }), 'UNSUPPORTED_ARCHITECTURE', new RegExp(arch));
      expect(e.message).toMatch(/LlamaForCausalLM.*Qwen3ForCausalLM/);
    }
    const { architectures: _, ...noArch } = smollm2;
    expect(configFromHf(noArch, { tensors: new Map() }).architecture).toBe('llama');
    expectCode(() => configFromHf({ ...noArch, model_type: 'gemma2' }, { tensors: new Map() }), 'UNSUPPORTED_ARCHITECTURE', /gemma2/);
    const { model_type: __, ...nothing } = noArch;
    expectCode(() => configFromHf(nothing, { tensors: new Map() }), 'CORRUPT_FILE', /names no architecture/);
  });

  it('rejects bad numbers, naming the field', () => {
    expectCode(() => configFromHf({ ...smollm2, hidden_size: undefined }, { tensors: new Map() }), 'CORRUPT_FILE', /hidden_size is missing/);
    expectCode(() => configFromHf({ ...smollm2, num_hidden_layers: 2.5 }, { tensors: new Map() }), 'CORRUPT_FILE', /num_hidden_layers must be a positive integer/);
    expectCode(() => configFromHf({ ...smollm2, num_attention_heads: 7 }, { tensors: new Map() }), 'CORRUPT_FILE', /not divisible by the 7 attention heads/);
    expectCode(() => configFromHf({ ...smollm2, num_key_value_heads: 2 }, { tensors: new Map() }), 'CORRUPT_FILE', /not a multiple of 2 key\/value heads/);
    expectCode(() => configFromHf({ ...smollm2, rms_norm_eps: -1 }, { tensors: new Map() }), 'CORRUPT_FILE', /rms_norm_eps/);
    expectCode(() => configFromHf('nope', { tensors: new Map() }), 'CORRUPT_FILE');
  });
});

function ggufMeta(arch: string, extra: Record<string, GgufValue> = {}): Map<string, GgufValue> {
  return new Map<string, GgufValue>(
    Object.entries({
      'general.architecture': arch,
      [`${arch}.context_length`]: 4096,
      [`${arch}.embedding_length`]: 64,
      [`${arch}.block_count`]: 2,
      [`${arch}.feed_forward_length`]: 128,
      [`${arch}.attention.head_count`]: 4,
      [`${arch}.attention.head_count_kv`]: 2,
      [`${arch}.attention.layer_norm_rms_epsilon`]: 1e-6,
      [`${arch}.rope.freq_base`]: 1e6,
      'tokenizer.ggml.tokens': ['a', 'b', 'c'],
      'tokenizer.ggml.bos_token_id': 1,
      'tokenizer.ggml.eos_token_id': 2,
      ...extra,
    }),
  );
}

describe('config from GGUF metadata', () => {
  it('reads a llama file with interleaved RoPE', () => {
    const c = configFromGguf(ggufMeta('llama'), { tensors: tensors({ embed: [3, 64], lm_head: [3, 64] }) });
    expect(c).toEqual<ModelConfig>({
      architecture: 'llama',
      hiddenSize: 64,
      intermediateSize: 128,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
      headDim: 16,
      vocabSize: 3,
      rmsNormEps: 1e-6,
      ropeTheta: 1e6,
      rotaryDim: 16,
      ropeScaling: null,
      ropeFreqFactors: null,
      ropeStyle: 'interleaved',
      tieWordEmbeddings: false,
      attentionBias: false,
      qkNorm: false,
      maxPositionEmbeddings: 4096,
      bosTokenId: 1,
      eosTokenIds: [2],
      ...plainFamilyFields({ headDim: 16 }),
      slidingLayers: [false, false],
    });
  });

  it('uses rotate-half for qwen, reads key_length, biases, norms, extra stop ids and linear scaling', () => {
    const c = configFromGguf(ggufMeta('qwen3', { 'qwen3.attention.key_length': 32, 'tokenizer.ggml.eot_token_id': 7, 'qwen3.rope.scaling.type': 'linear', 'qwen3.rope.scaling.factor': 2 }), {
      tensors: tensors({ embed: [10, 64], 'layers.0.q_norm': [32], 'layers.0.q_bias': [128] }),
    });
    expect(c).toMatchObject({ architecture: 'qwen3', ropeStyle: 'half', headDim: 32, rotaryDim: 32, qkNorm: true, attentionBias: true, tieWordEmbeddings: true, vocabSize: 10, eosTokenIds: [2, 7], ropeScaling: { type: 'linear', factor: 2 } });
    expect(configFromGguf(ggufMeta('qwen2'), { tensors: tensors({ embed: [3, 64] }) }).ropeStyle).toBe('half');
  });

  it('takes RoPE frequency factors (rope_freqs) and checks their length', () => {
    const c = configFromGguf(ggufMeta('llama'), { tensors: new Map(), ropeFreqFactors: new Float32Array([1, 1, 2, 4, 8, 8, 8, 8]) });
    expect(c.ropeFreqFactors).toEqual([1, 1, 2, 4, 8, 8, 8, 8]);
    expect(c.ropeScaling).toBeNull();
    expectCode(() => configFromGguf(ggufMeta('llama'), { tensors: new Map(), ropeFreqFactors: [1, 2] }), 'CORRUPT_FILE', /rope_freqs/);
  });

  it('accepts uniform per-layer head counts and refuses varying ones', () => {
    expect(configFromGguf(ggufMeta('llama', { 'llama.attention.head_count_kv': [2, 2] }), { tensors: new Map() }).numKvHeads).toBe(2);
    expectCode(() => configFromGguf(ggufMeta('llama', { 'llama.attention.head_count_kv': [2, 4] }), { tensors: new Map() }), 'UNSUPPORTED_ARCHITECTURE', /differs between layers/);
  });

  it('refuses unsupported architectures and bad metadata', () => {
    const e = expectCode(() => configFromGguf(ggufMeta('gemma2'), { tensors: new Map() }), 'UNSUPPORTED_ARCHITECTURE', /gemma2/);
    expect(e.details).toMatchObject({ supported: ['llama', 'mistral', 'qwen2', 'qwen3', 'gemma3', 'phi3'] });
    expectCode(() => configFromGguf(ggufMeta('phi2'), { tensors: new Map() }), 'UNSUPPORTED_ARCHITECTURE', /phi2/);
    const noArch = ggufMeta('llama');
    noArch.delete('general.architecture');
    expectCode(() => configFromGguf(noArch, { tensors: new Map() }), 'CORRUPT_FILE', /general\.architecture is missing/);
    const noHidden = ggufMeta('llama');
    noHidden.delete('llama.embedding_length');
    expectCode(() => configFromGguf(noHidden, { tensors: new Map() }), 'CORRUPT_FILE', /llama\.embedding_length is missing/);
    expectCode(() => configFromGguf(ggufMeta('llama', { 'llama.block_count': 0 }), { tensors: new Map() }), 'CORRUPT_FILE', /llama\.block_count/);
    expectCode(() => configFromGguf(ggufMeta('llama', { 'llama.attention.head_count_kv': 3 }), { tensors: new Map() }), 'CORRUPT_FILE', /key\/value heads/);
    expectCode(() => configFromGguf(ggufMeta('llama', { 'llama.rope.scaling.type': 'yarn' }), { tensors: new Map() }), 'UNSUPPORTED_ARCHITECTURE', /yarn/);
  });

  it('validates a config object', () => {
    const c = configFromGguf(ggufMeta('llama'), { tensors: new Map() });
    expectCode(() => validateConfig({ ...c, rotaryDim: 15 }), 'CORRUPT_FILE', /rotary dimension/);
    expectCode(() => validateConfig({ ...c, vocabSize: 0 }), 'CORRUPT_FILE', /vocabSize/);
  });
});
