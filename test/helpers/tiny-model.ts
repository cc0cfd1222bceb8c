/** Small random-weight Llama-family models in HF and GGUF layouts, for format and source tests. */
import { writeGguf, type GgufMetadataEntry } from '../../src/formats/gguf-writer.js';
import { writeSafetensors, writeSafetensorsIndex } from '../../src/formats/safetensors-writer.js';
import { sourceTensorName } from '../../src/formats/tensors.js';
import { quantize } from '../../src/quant/formats.js';
import { randomF32 } from './random.js';

export interface TinySpec {
  arch?: 'llama' | 'qwen2' | 'qwen3';
  hidden?: number;
  intermediate?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  headDim?: number;
  vocab?: number;
  tied?: boolean;
  bias?: boolean;
  qkNorm?: boolean;
}

export type TinyTensors = Map<string, { shape: number[]; data: Float32Array }>;

export function tinySpec(s: TinySpec = {}): Required<TinySpec> {
  const arch = s.arch ?? 'llama';
  return {
    arch,
    hidden: s.hidden ?? 32,
    intermediate: s.intermediate ?? 64,
    layers: s.layers ?? 2,
    heads: s.heads ?? 4,
    kvHeads: s.kvHeads ?? 2,
    headDim: s.headDim ?? 8,
    vocab: s.vocab ?? 40,
    tied: s.tied ?? false,
    bias: s.bias ?? arch === 'qwen2',
    qkNorm: s.qkNorm ?? arch === 'qwen3',
  };
}

/** Canonical name -> shape and seeded random values. */
export function tinyTensors(spec: TinySpec = {}): TinyTensors {
  const s = tinySpec(spec);
  const out: TinyTensors = new Map();
  let seed = 1;
  const add = (name: string, shape: number[]) => out.set(name, { shape, data: randomF32(shape.reduce((a, b) => a * b, 1), seed++, 0.5) });
  const q = s.heads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  add('embed', [s.vocab, s.hidden]);
  for (let l = 0; l < s.layers; l++) {
    const p = `layers.${l}.`;
    add(p + 'attn_norm', [s.hidden]);
    add(p + 'q', [q, s.hidden]);
    add(p + 'k', [kv, s.hidden]);
    add(p + 'v', [kv, s.hidden]);
    add(p + 'o', [s.hidden, q]);
    if (s.bias) {
      add(p + 'q_bias', [q]);
      add(p + 'k_bias', [kv]);
      add(p + 'v_bias', [kv]);
    }
    if (s.qkNorm) {
      add(p + 'q_norm', [s.headDim]);
      add(p + 'k_norm', [s.headDim]);
    }
    add(p + 'ffn_norm', [s.hidden]);
    add(p + 'gate', [s.intermediate, s.hidden]);
    add(p + 'up', [s.intermediate, s.hidden]);
    add(p + 'down', [s.hidden, s.intermediate]);
  }
  add('final_norm', [s.hidden]);
  if (!s.tied) add('lm_head', [s.vocab, s.hidden]);
  return out;
}

const HF_ARCH = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM' } as const;

export function tinyHfConfig(spec: TinySpec = {}): Record<string, unknown> {
  const s = tinySpec(spec);
  return {
    architectures: [HF_ARCH[s.arch]],
    model_type: s.arch,
    hidden_size: s.hidden,
    intermediate_size: s.intermediate,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    head_dim: s.headDim,
    vocab_size: s.vocab,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    max_position_embeddings: 256,
    tie_word_embeddings: s.tied,
    bos_token_id: 1,
    eos_token_id: 2,
  };
}

/**
 * A Hugging Face model folder: config.json, tokenizer files and the weights in F32, either as
 * model.safetensors or split into `shards` files with an index.
 */
export function tinyHfFiles(spec: TinySpec = {}, shards = 1): Record<string, Uint8Array | string> {
  const t = tinyTensors(spec);
  const entries = [...t.entries()].map(([name, v]) => ({ name: sourceTensorName(name, 'hf'), dtype: 'F32' as const, shape: v.shape, data: quantize('f32', v.data) }));
  const files: Record<string, Uint8Array | string> = {
    'config.json': JSON.stringify(tinyHfConfig(spec)),
    'generation_config.json': JSON.stringify({ eos_token_id: [2, 3] }),
    'tokenizer.json': JSON.stringify({ version: '1.0', model: { type: 'BPE', vocab: {}, merges: [] } }),
    'tokenizer_config.json': JSON.stringify({ eos_token: '</s>' }),
  };
  if (shards === 1) {
    files['model.safetensors'] = writeSafetensors(entries, { format: 'pt' });
    return files;
  }
  const per = Math.ceil(entries.length / shards);
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < shards; i++) {
    const name = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part = entries.slice(i * per, (i + 1) * per);
    for (const e of part) weightMap[e.name] = name;
    files[name] = writeSafetensors(part, { format: 'pt' });
  }
  files['model.safetensors.index.json'] = writeSafetensorsIndex(weightMap);
  return files;
}

/** The same model as a GGUF file (F32; Q/K not permuted: these tests only check formats). */
export function tinyGguf(
  spec: TinySpec = {},
  extra: { metadata?: GgufMetadataEntry[]; ropeFreqs?: Float32Array; /** Metadata values to replace, by key (new value and type). */ replace?: Record<string, Omit<GgufMetadataEntry, 'key'>> } = {},
): Uint8Array {
  const s = tinySpec(spec);
  const t = tinyTensors(spec);
  const a = s.arch;
  const tensors = [...t.entries()].map(([name, v]) => ({ name: sourceTensorName(name, 'gguf'), type: 'F32' as const, shape: v.shape, data: quantize('f32', v.data) }));
  if (extra.ropeFreqs) tensors.push({ name: 'rope_freqs.weight', type: 'F32', shape: [extra.ropeFreqs.length], data: quantize('f32', extra.ropeFreqs) });
  const metadata: GgufMetadataEntry[] = [
    { key: 'general.architecture', type: 'string', value: a },
    { key: `${a}.context_length`, type: 'u32', value: 256 },
    { key: `${a}.embedding_length`, type: 'u32', value: s.hidden },
    { key: `${a}.block_count`, type: 'u32', value: s.layers },
    { key: `${a}.feed_forward_length`, type: 'u32', value: s.intermediate },
    { key: `${a}.attention.head_count`, type: 'u32', value: s.heads },
    { key: `${a}.attention.head_count_kv`, type: 'u32', value: s.kvHeads },
    { key: `${a}.attention.key_length`, type: 'u32', value: s.headDim },
    { key: `${a}.attention.layer_norm_rms_epsilon`, type: 'f32', value: 1e-6 },
    { key: `${a}.rope.freq_base`, type: 'f32', value: 10000 },
    { key: 'tokenizer.ggml.model', type: 'string', value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: Array.from({ length: s.vocab }, (_, i) => `t${i}`) },
    { key: 'tokenizer.ggml.bos_token_id', type: 'u32', value: 1 },
    { key: 'tokenizer.ggml.eos_token_id', type: 'u32', value: 2 },
    ...(extra.metadata ?? []),
  ].map((m) => (extra.replace?.[m.key] ? { key: m.key, ...extra.replace[m.key]! } : m)) as GgufMetadataEntry[];
  return writeGguf({ metadata, tensors });
}
