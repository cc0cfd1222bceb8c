import { HearthError } from '../errors.js';
import type { GgufValue } from './gguf.js';
import type { TensorInfo } from './tensors.js';

export type Architecture = 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'gemma3' | 'phi3';

export const SUPPORTED_ARCHITECTURES: readonly Architecture[] = ['llama', 'mistral', 'qwen2', 'qwen3', 'gemma3', 'phi3'];

/** Hugging Face `architectures[0]` -> family. SmolLM, SmolLM2 and TinyLlama are LlamaForCausalLM. */
export const HF_ARCHITECTURES: Readonly<Record<string, Architecture>> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
  Gemma3ForCausalLM: 'gemma3',
  // the text model inside (its tensors under language_model.*; the vision tower is left out)
  Gemma3ForConditionalGeneration: 'gemma3',
  // Phi-3 / Phi-3.5-mini (fused qkv_proj and gate_up_proj, LongRoPE)
  Phi3ForCausalLM: 'phi3',
};

export type RopeScaling =
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number }
  | { type: 'linear'; factor: number }
  | LongRope;

/**
 * LongRoPE (Phi-3, Phi-3.5; Hugging Face's 'longrope', older 'su'): per-frequency divisors of the
 * inverse frequencies, one list for contexts up to the original training length and one beyond it
 * (inv_freq[i] = theta^(-2i/rotaryDim) / factor[i]: models/rope-table.ts picks by the engine's
 * context length, as llama.cpp does), and cos/sin scaled by attentionFactor. Both q and k carry
 * that scale, so it is folded into ModelConfig.attentionScale (times attentionFactor^2) and the
 * kernels rotate with plain cos/sin.
 */
export interface LongRope {
  type: 'longrope';
  /** [rotaryDim / 2] divisors for contexts up to originalMaxPositionEmbeddings. */
  shortFactor: number[];
  /** [rotaryDim / 2] divisors for longer contexts. */
  longFactor: number[];
  originalMaxPositionEmbeddings: number;
  /** cos/sin multiplier: sqrt(1 + ln(max / original) / ln(original)), or 1 when max <= original, or the file's own. */
  attentionFactor: number;
}

export interface ModelConfig {
  architecture: Architecture;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** Leading dimensions of each head that RoPE rotates (all of them for these families). */
  rotaryDim: number;
  ropeScaling: RopeScaling | null;
  /**
   * Per-frequency divisors of the inverse RoPE frequencies ([rotaryDim / 2]), from GGUF's
   * `rope_freqs.weight`: llama.cpp's converter bakes Llama 3 scaling into this tensor instead of
   * metadata. When set, ropeScaling is null and inv_freq[i] = theta^(-2i/rotaryDim) / factors[i].
   */
  ropeFreqFactors: number[] | null;
  /** 'half': rotate-half (Hugging Face). 'interleaved': adjacent pairs (llama.cpp's permuted Q/K for llama/mistral GGUF). */
  ropeStyle: 'half' | 'interleaved';
  tieWordEmbeddings: boolean;
  attentionBias: boolean;
  qkNorm: boolean;
  maxPositionEmbeddings: number;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /** Embedding rows are multiplied by this (Gemma: sqrt(hidden), in f32); 1 elsewhere. */
  embedScale: number;
  /** Softmax scale of attention scores: 1/sqrt(headDim), or Gemma's query_pre_attn_scalar^-0.5. */
  attentionScale: number;
  /** The gated MLP's activation: SiLU (Llama, Qwen) or GELU with the tanh approximation (Gemma). */
  hiddenAct: 'silu' | 'gelu_tanh';
  /** An RMSNorm after attention and after the MLP, before each residual add (Gemma 3's sandwich norms). */
  postNorms: boolean;
  /**
   * Added to every RMSNorm weight at load: Gemma's Hugging Face checkpoints store w and compute
   * with 1 + w, while its GGUF files store 1 + w already. 0 elsewhere.
   */
  normWeightOffset: number;
  /** Sliding-window attention: a query sees itself and the window - 1 tokens before it; 0 = none. */
  slidingWindow: number;
  /** Per layer: true where attention is restricted to the sliding window (Gemma 3's local layers). */
  slidingLayers: boolean[];
  /** RoPE base of the sliding-window layers, which use no RoPE scaling (Gemma 3: 10000); null: ropeTheta. */
  ropeLocalTheta: number | null;
}

/** The fields only some families set, as every other family has them. */
export function plainFamilyFields(c: { headDim: number }): Pick<ModelConfig, 'embedScale' | 'attentionScale' | 'hiddenAct' | 'postNorms' | 'normWeightOffset' | 'slidingWindow' | 'slidingLayers' | 'ropeLocalTheta'> {
  // slidingLayers is filled once numLayers has passed validateConfig's limits (see withLayers)
  return { embedScale: 1, attentionScale: 1 / Math.sqrt(c.headDim), hiddenAct: 'silu', postNorms: false, normWeightOffset: 0, slidingWindow: 0, slidingLayers: [], ropeLocalTheta: null };
}

/** Per-layer fields sized from numLayers, filled only after it was checked against the limits. */
function withLayers(c: ModelConfig): ModelConfig {
  if (c.slidingLayers.length !== c.numLayers) c.slidingLayers = new Array<boolean>(c.numLayers).fill(false);
  return c;
}

/** Gemma 3's local/global layout when a file does not spell it out: every sixth layer global (llama.cpp's rule). */
export const GEMMA3_SLIDING_PATTERN = 6;
/** RoPE base of Gemma 3's local layers (GGUF does not store it; llama.cpp uses this). */
export const GEMMA3_LOCAL_ROPE_THETA = 10000;

function unsupportedArchitecture(name: string, where: string): HearthError {
  return new HearthError('UNSUPPORTED_ARCHITECTURE', `${where}: architecture ${name} is not supported.`, {
    hint: `Hearth runs ${Object.keys(HF_ARCHITECTURES).join(', ')} (GGUF: ${SUPPORTED_ARCHITECTURES.join(', ')}).`,
    details: { architecture: name, supported: [...SUPPORTED_ARCHITECTURES] },
  });
}

function corrupt(where: string, msg: string, field?: string, value?: unknown): HearthError {
  return new HearthError('CORRUPT_FILE', `${where}: ${msg}`, { hint: 'The model configuration is damaged or incomplete.', details: { file: where, field, value } });
}

/** A value for a message: JSON, with GGUF's 64-bit integers (bigint) as digits, cut short. */
function show(v: unknown): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x));
  } catch {
    s = undefined;
  }
  s ??= String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A field as a positive integer (counts, sizes), or CORRUPT_FILE naming it. */
function posInt(v: unknown, field: string, where: string): number {
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) {
    throw corrupt(where, v === undefined || v === null ? `${field} is missing.` : `${field} must be a positive integer, got ${show(v)}.`, field, typeof v === 'bigint' ? String(v) : v);
  }
  return n;
}

function posNum(v: unknown, field: string, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw corrupt(where, v === undefined || v === null ? `${field} is missing.` : `${field} must be a positive number, got ${show(v)}.`, field, typeof v === 'bigint' ? String(v) : v);
  }
  return v;
}

function tokenIds(v: unknown): number[] {
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => (typeof x === 'bigint' ? Number(x) : x)).filter((x): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0);
}

/** Facts the tensors tell about a model, which override or complete its config. */
function tensorFacts(tensors: ReadonlyMap<string, TensorInfo>) {
  return {
    vocabRows: tensors.get('embed')?.shape[0],
    hasLmHead: tensors.has('lm_head'),
    hasBias: tensors.has('layers.0.q_bias') || tensors.has('layers.0.qkv_bias'),
    hasQkNorm: tensors.has('layers.0.q_norm'),
  };
}

/** What LongRoPE needs from the rest of config.json. */
interface RopeContext {
  config: Record<string, unknown>;
  rotaryDim: number;
  maxPositionEmbeddings: number;
}

function hfRopeScaling(raw: unknown, where: string, ctx: RopeContext): RopeScaling | null {
  if (raw === null || raw === undefined) return null;
  if (!isObject(raw)) throw corrupt(where, 'rope_scaling must be an object or null.', 'rope_scaling');
  const type = raw.rope_type ?? raw.type;
  if (type === undefined || type === 'default') return null;
  if (type === 'longrope' || type === 'su') return hfLongRope(raw, where, ctx);
  if (type === 'linear') return { type: 'linear', factor: posNum(raw.factor, 'rope_scaling.factor', where) };
  if (type === 'llama3') {
    return {
      type: 'llama3',
      factor: posNum(raw.factor, 'rope_scaling.factor', where),
      lowFreqFactor: posNum(raw.low_freq_factor, 'rope_scaling.low_freq_factor', where),
      highFreqFactor: posNum(raw.high_freq_factor, 'rope_scaling.high_freq_factor', where),
      originalMaxPositionEmbeddings: posInt(raw.original_max_position_embeddings, 'rope_scaling.original_max_position_embeddings', where),
    };
  }
  throw new HearthError('UNSUPPORTED_ARCHITECTURE', `${where}: RoPE scaling type ${show(type)} is not supported.`, {
    hint: 'Hearth supports llama3, linear and longrope RoPE scaling.',
    details: { ropeScaling: type },
  });
}

/**
 * Hugging Face's _compute_longrope_parameters: the original context is config.json's
 * original_max_position_embeddings (Phi-3 keeps it at the top level), the scale max / original,
 * and the attention factor rope_scaling.attention_factor or sqrt(1 + ln(scale) / ln(original)).
 */
function hfLongRope(raw: Record<string, unknown>, where: string, ctx: RopeContext): LongRope {
  const origRaw = ctx.config.original_max_position_embeddings ?? raw.original_max_position_embeddings;
  let original: number;
  let scale: number;
  if (origRaw !== undefined && origRaw !== null) {
    original = posInt(origRaw, 'original_max_position_embeddings', where);
    scale = ctx.maxPositionEmbeddings / original;
  } else {
    original = ctx.maxPositionEmbeddings;
    scale = raw.factor === undefined || raw.factor === null ? 1 : posNum(raw.factor, 'rope_scaling.factor', where);
  }
  const given = raw.attention_factor;
  const attentionFactor = given !== undefined && given !== null ? posNum(given, 'rope_scaling.attention_factor', where) : longRopeAttentionFactor(scale, original);
  return {
    type: 'longrope',
    shortFactor: factorList(raw.short_factor, ctx.rotaryDim, 'rope_scaling.short_factor', where),
    longFactor: factorList(raw.long_factor, ctx.rotaryDim, 'rope_scaling.long_factor', where),
    originalMaxPositionEmbeddings: original,
    attentionFactor,
  };
}

/** LongRoPE's default cos/sin scale for a context stretched `scale` times past `original`. */
export function longRopeAttentionFactor(scale: number, original: number): number {
  return scale <= 1 ? 1 : Math.sqrt(1 + Math.log(scale) / Math.log(original));
}

/** A list of rotaryDim / 2 positive finite numbers (RoPE frequency divisors), or CORRUPT_FILE naming `field`. */
function factorList(v: unknown, rotaryDim: number, field: string, where: string): number[] {
  const list = ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v;
  if (!Array.isArray(list)) throw corrupt(where, list === undefined || list === null ? `${field} is missing.` : `${field} must be a list of numbers.`, field);
  if (list.length !== rotaryDim / 2) throw corrupt(where, `${field} has ${list.length} values, expected ${rotaryDim / 2} (half the rotary dimension).`, field);
  list.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) throw corrupt(where, `${field}[${i}] must be a positive number, got ${show(x)}.`, field, typeof x === 'bigint' ? String(x) : x);
  });
  return list as number[];
}

export interface HfConfigInputs {
  /** generation_config.json, whose eos_token_id may list more stop tokens than config.json. */
  generationConfig?: unknown;
  tensors: ReadonlyMap<string, TensorInfo>;
  /** For messages. */
  file?: string;
}

/** ModelConfig from a Hugging Face config.json (+ generation_config.json) and the tensors found. */
export function configFromHf(config: unknown, inputs: HfConfigInputs): ModelConfig {
  const where = inputs.file ?? 'config.json';
  if (!isObject(config)) throw corrupt(where, 'it is not a JSON object.');
  const archName = Array.isArray(config.architectures) && typeof config.architectures[0] === 'string' ? config.architectures[0] : undefined;
  let architecture: Architecture | undefined;
  if (archName !== undefined) {
    architecture = HF_ARCHITECTURES[archName];
    if (!architecture) throw unsupportedArchitecture(archName, where);
  } else if (typeof config.model_type === 'string') {
    const type = config.model_type === 'gemma3_text' ? 'gemma3' : config.model_type;
    architecture = (SUPPORTED_ARCHITECTURES as readonly string[]).includes(type) ? (type as Architecture) : undefined;
    if (!architecture) throw unsupportedArchitecture(config.model_type, where);
  } else {
    throw corrupt(where, 'it names no architecture (no architectures or model_type).', 'architectures');
  }
  // a multimodal Gemma 3 keeps its text model's settings under text_config
  if (architecture === 'gemma3' && isObject(config.text_config)) config = { ...config.text_config, eos_token_id: config.text_config.eos_token_id ?? config.eos_token_id, bos_token_id: config.text_config.bos_token_id ?? config.bos_token_id };
  if (!isObject(config)) throw corrupt(where, 'it is not a JSON object.');

  const facts = tensorFacts(inputs.tensors);
  const hiddenSize = posInt(config.hidden_size, 'hidden_size', where);
  const numHeads = posInt(config.num_attention_heads, 'num_attention_heads', where);
  const explicitHeadDim = config.head_dim !== undefined && config.head_dim !== null;
  const headDim = explicitHeadDim ? posInt(config.head_dim, 'head_dim', where) : derivedHeadDim(hiddenSize, numHeads, where);
  // newer transformers keep rope settings in rope_parameters
  const ropeParams = isObject(config.rope_parameters) ? config.rope_parameters : undefined;
  const ropeTheta = config.rope_theta ?? ropeParams?.rope_theta ?? 10000;
  const partial = config.partial_rotary_factor ?? ropeParams?.partial_rotary_factor;
  const rotaryDim = typeof partial === 'number' ? Math.round(headDim * partial) : headDim;
  const maxPositionEmbeddings = posInt(config.max_position_embeddings ?? 2048, 'max_position_embeddings', where);
  const gen = isObject(inputs.generationConfig) ? inputs.generationConfig : {};
  const eos = [...tokenIds(gen.eos_token_id ?? []), ...tokenIds(config.eos_token_id ?? [])];
  const bos = tokenIds(config.bos_token_id ?? gen.bos_token_id ?? [])[0] ?? null;

  const c: ModelConfig = {
    architecture,
    hiddenSize,
    intermediateSize: posInt(config.intermediate_size, 'intermediate_size', where),
    numLayers: posInt(config.num_hidden_layers, 'num_hidden_layers', where),
    numHeads,
    numKvHeads: posInt(config.num_key_value_heads ?? numHeads, 'num_key_value_heads', where),
    headDim,
    vocabSize: facts.vocabRows ?? posInt(config.vocab_size, 'vocab_size', where),
    rmsNormEps: posNum(config.rms_norm_eps ?? 1e-6, 'rms_norm_eps', where),
    ropeTheta: posNum(ropeTheta, 'rope_theta', where),
    rotaryDim,
    ropeScaling: hfRopeScaling(config.rope_scaling ?? (ropeParams && ropeParams.rope_type !== 'default' ? ropeParams : null), where, { config, rotaryDim, maxPositionEmbeddings }),
    ropeFreqFactors: null,
    ropeStyle: 'half',
    // a checkpoint without lm_head ties it, whatever the flag says
    tieWordEmbeddings: inputs.tensors.size === 0 ? config.tie_word_embeddings === true : !facts.hasLmHead || config.tie_word_embeddings === true,
    attentionBias: facts.hasBias || config.attention_bias === true,
    qkNorm: facts.hasQkNorm || architecture === 'qwen3',
    maxPositionEmbeddings,
    bosTokenId: bos,
    eosTokenIds: [...new Set(eos)],
    ...plainFamilyFields({ headDim }),
  };
  validateConfig(c, where, 'safetensors');
  if (architecture === 'gemma3') {
    Object.assign(c, gemma3FromHf(config, c, where));
    validateConfig(c, where, 'safetensors');
  }
  if (architecture === 'phi3') {
    // Phi3Config: sliding_window restricts every layer (Phi-3-mini-4k: 2047 of 4096 positions);
    // a window of at least the maximum context (Phi-3.5-mini: 262144 of 131072) restricts nothing
    const window = config.sliding_window === undefined || config.sliding_window === null ? 0 : posInt(config.sliding_window, 'sliding_window', where);
    if (window > 0 && window < c.maxPositionEmbeddings) Object.assign(c, { slidingWindow: window, slidingLayers: new Array<boolean>(c.numLayers).fill(true) });
  }
  return withLongRope(withLayers(c));
}

/** LongRoPE's cos/sin factor, applied to both q and k, folded into the attention score scale. */
function withLongRope(c: ModelConfig): ModelConfig {
  if (c.ropeScaling?.type === 'longrope') c.attentionScale *= c.ropeScaling.attentionFactor ** 2;
  return c;
}

/** Gemma 3's text decoder, from its Hugging Face config (Gemma3TextConfig). */
function gemma3FromHf(config: Record<string, unknown>, c: ModelConfig, where: string): Partial<ModelConfig> {
  const act = config.hidden_activation ?? config.hidden_act ?? 'gelu_pytorch_tanh';
  if (act !== 'gelu_pytorch_tanh' && act !== 'gelu_tanh') {
    throw new HearthError('UNSUPPORTED_ARCHITECTURE', `${where}: hidden_activation ${JSON.stringify(act)} is not supported for Gemma 3.`, { details: { field: 'hidden_activation', value: act } });
  }
  for (const cap of ['final_logit_softcapping', 'attn_logit_softcapping'] as const) {
    if (config[cap] !== undefined && config[cap] !== null) {
      throw new HearthError('UNSUPPORTED_ARCHITECTURE', `${where}: ${cap} is set, which Gemma 3 does not use and Hearth does not support.`, { details: { field: cap, value: config[cap] } });
    }
  }
  const window = config.sliding_window === undefined || config.sliding_window === null ? 0 : posInt(config.sliding_window, 'sliding_window', where);
  let sliding: boolean[];
  if (Array.isArray(config.layer_types)) {
    if (config.layer_types.length !== c.numLayers) throw corrupt(where, `layer_types lists ${config.layer_types.length} layers, but num_hidden_layers is ${c.numLayers}.`, 'layer_types');
    sliding = config.layer_types.map((t, i) => {
      if (t !== 'sliding_attention' && t !== 'full_attention') throw corrupt(where, `layer_types[${i}] is ${JSON.stringify(t)}, not sliding_attention or full_attention.`, 'layer_types');
      return t === 'sliding_attention';
    });
  } else {
    const pattern = posInt(config.sliding_window_pattern ?? GEMMA3_SLIDING_PATTERN, 'sliding_window_pattern', where);
    sliding = Array.from({ length: c.numLayers }, (_, i) => (i + 1) % pattern !== 0);
  }
  const scalar = config.query_pre_attn_scalar === undefined || config.query_pre_attn_scalar === null ? c.headDim : posNum(config.query_pre_attn_scalar, 'query_pre_attn_scalar', where);
  return {
    embedScale: Math.sqrt(c.hiddenSize),
    attentionScale: 1 / Math.sqrt(scalar),
    hiddenAct: 'gelu_tanh',
    postNorms: true,
    normWeightOffset: 1,
    slidingWindow: window,
    slidingLayers: window ? sliding : sliding.map(() => false),
    ropeLocalTheta: posNum(config.rope_local_base_freq ?? GEMMA3_LOCAL_ROPE_THETA, 'rope_local_base_freq', where),
    qkNorm: true,
    rmsNormEps: posNum(config.rms_norm_eps ?? 1e-6, 'rms_norm_eps', where),
  };
}

function derivedHeadDim(hidden: number, heads: number, where: string): number {
  if (hidden % heads !== 0) throw corrupt(where, `hidden size ${hidden} is not divisible by the ${heads} attention heads, and no head_dim is given.`, 'num_attention_heads');
  return hidden / heads;
}

export interface GgufConfigInputs {
  tensors: ReadonlyMap<string, TensorInfo>;
  /** Contents of rope_freqs.weight, when the file has it. */
  ropeFreqFactors?: ArrayLike<number> | null;
  /** Contents of rope_factors_long.weight and rope_factors_short.weight (LongRoPE, Phi-3), when the file has them. */
  ropeFactorsLong?: ArrayLike<number> | null;
  ropeFactorsShort?: ArrayLike<number> | null;
  file?: string;
}

/** ModelConfig from GGUF metadata (`{arch}.*`, `tokenizer.ggml.*`) and the tensors found. */
export function configFromGguf(metadata: ReadonlyMap<string, GgufValue>, inputs: GgufConfigInputs): ModelConfig {
  const where = inputs.file ?? 'GGUF metadata';
  const arch = metadata.get('general.architecture');
  if (typeof arch !== 'string') throw corrupt(where, 'general.architecture is missing.', 'general.architecture');
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(arch)) throw unsupportedArchitecture(arch, where);
  const architecture = arch as Architecture;
  const get = (k: string): GgufValue | undefined => metadata.get(`${arch}.${k}`);
  const int = (k: string, fallback?: number): number => posInt(uniform(get(k), `${arch}.${k}`, where) ?? fallback, `${arch}.${k}`, where);

  const facts = tensorFacts(inputs.tensors);
  const hiddenSize = int('embedding_length');
  const numHeads = int('attention.head_count');
  const headDim = get('attention.key_length') !== undefined ? int('attention.key_length') : derivedHeadDim(hiddenSize, numHeads, where);
  const tokens = metadata.get('tokenizer.ggml.tokens');
  const vocab = facts.vocabRows ?? (Array.isArray(tokens) ? tokens.length : get('vocab_size'));

  let ropeScaling: RopeScaling | null = null;
  const scalingType = get('rope.scaling.type');
  const linearScale = get('rope.scale_linear');
  const longRope = inputs.ropeFactorsLong || inputs.ropeFactorsShort;
  if (longRope && (scalingType === 'longrope' || scalingType === 'su')) {
    // read below, from the factor tensors
  } else if (scalingType === 'linear') ropeScaling = { type: 'linear', factor: posNum(get('rope.scaling.factor'), `${arch}.rope.scaling.factor`, where) };
  else if (scalingType !== undefined && scalingType !== 'none') {
    throw new HearthError('UNSUPPORTED_ARCHITECTURE', `${where}: RoPE scaling type ${show(scalingType)} is not supported.`, {
      hint: 'Hearth supports llama3 (rope_freqs) and linear RoPE scaling.',
      details: { ropeScaling: typeof scalingType === 'bigint' ? String(scalingType) : scalingType },
    });
  } else if (typeof linearScale === 'number' && linearScale !== 1) ropeScaling = { type: 'linear', factor: posNum(linearScale, `${arch}.rope.scale_linear`, where) };

  const eos = ['tokenizer.ggml.eos_token_id', 'tokenizer.ggml.eot_token_id', 'tokenizer.ggml.eom_token_id'].flatMap((k) => tokenIds(metadata.get(k) ?? []));
  const rotaryDim = get('rope.dimension_count') !== undefined ? int('rope.dimension_count') : headDim;
  const factors = inputs.ropeFreqFactors ? Array.from(inputs.ropeFreqFactors) : null;
  if (factors && factors.length !== rotaryDim / 2) {
    throw corrupt(where, `rope_freqs.weight has ${factors.length} values, expected ${rotaryDim / 2} (half the rotary dimension).`, 'rope_freqs.weight');
  }

  const maxPositionEmbeddings = int('context_length', 2048);
  if (longRope) {
    // as llama.cpp reads them (Phi-3's converter writes both tensors, the original context and
    // the attention factor): the factors divide the inverse frequencies, cos/sin are scaled by
    // rope.scaling.attn_factor (1 when absent)
    if (ropeScaling) throw corrupt(where, `${arch}.rope.scaling is set, but the file also holds LongRoPE factors (rope_factors_long/short).`, `${arch}.rope.scaling.type`);
    const attn = get('rope.scaling.attn_factor');
    ropeScaling = {
      type: 'longrope',
      shortFactor: factorList(inputs.ropeFactorsShort ?? undefined, rotaryDim, 'rope_factors_short.weight', where),
      longFactor: factorList(inputs.ropeFactorsLong ?? undefined, rotaryDim, 'rope_factors_long.weight', where),
      originalMaxPositionEmbeddings: get('rope.scaling.original_context_length') === undefined ? maxPositionEmbeddings : int('rope.scaling.original_context_length'),
      attentionFactor: attn === undefined ? 1 : posNum(attn, `${arch}.rope.scaling.attn_factor`, where),
    };
  }

  const c: ModelConfig = {
    architecture,
    hiddenSize,
    intermediateSize: int('feed_forward_length'),
    numLayers: int('block_count'),
    numHeads,
    numKvHeads: int('attention.head_count_kv', numHeads),
    headDim,
    vocabSize: posInt(vocab, 'vocabulary size (tokenizer.ggml.tokens)', where),
    rmsNormEps: posNum(get('attention.layer_norm_rms_epsilon') ?? 1e-5, `${arch}.attention.layer_norm_rms_epsilon`, where),
    ropeTheta: posNum(get('rope.freq_base') ?? 10000, `${arch}.rope.freq_base`, where),
    rotaryDim,
    ropeScaling,
    ropeFreqFactors: factors,
    // llama.cpp permutes llama/mistral Q/K rows for adjacent-pair RoPE; qwen models keep NEOX (rotate-half)
    ropeStyle: architecture === 'llama' || architecture === 'mistral' ? 'interleaved' : 'half',
    tieWordEmbeddings: inputs.tensors.size > 0 && !facts.hasLmHead,
    attentionBias: facts.hasBias,
    qkNorm: facts.hasQkNorm,
    maxPositionEmbeddings,
    bosTokenId: tokenIds(metadata.get('tokenizer.ggml.bos_token_id') ?? [])[0] ?? null,
    eosTokenIds: [...new Set(eos)],
    ...plainFamilyFields({ headDim }),
  };
  validateConfig(c, where, 'gguf');
  if (architecture === 'gemma3') {
    // as llama.cpp reads gemma3 files: the norms hold 1 + w already; the local layers' pattern and
    // RoPE base are not stored (every sixth layer is global; local base 10000); the attention scale
    // is 1/sqrt(head size) except for the 27B model (62 layers), which uses 1/sqrt(hidden / heads)
    const window = get('attention.sliding_window') === undefined ? 0 : int('attention.sliding_window');
    const pattern = get('attention.sliding_window_pattern') === undefined ? GEMMA3_SLIDING_PATTERN : int('attention.sliding_window_pattern');
    Object.assign(c, {
      ropeStyle: 'half',
      embedScale: Math.sqrt(hiddenSize),
      attentionScale: c.numLayers === 62 ? 1 / Math.sqrt(hiddenSize / numHeads) : 1 / Math.sqrt(headDim),
      hiddenAct: 'gelu_tanh',
      postNorms: true,
      slidingWindow: window,
      slidingLayers: Array.from({ length: c.numLayers }, (_, i) => window > 0 && (i + 1) % pattern !== 0),
      ropeLocalTheta: GEMMA3_LOCAL_ROPE_THETA,
      rmsNormEps: posNum(get('attention.layer_norm_rms_epsilon') ?? 1e-6, `${arch}.attention.layer_norm_rms_epsilon`, where),
    } satisfies Partial<ModelConfig>);
    validateConfig(c, where, 'gguf');
  }
  if (architecture === 'phi3') {
    // the window of every layer, as Hugging Face applies it (llama.cpp reads the key but, since
    // its PR 13676, attends to everything); files converted before the key existed get
    // llama.cpp's earlier defaults: 2047 for Phi-3-mini/medium-4k (32 or 40 layers, 4096 positions)
    let window = get('attention.sliding_window') === undefined ? 0 : posIntOrZero(uniform(get('attention.sliding_window'), `${arch}.attention.sliding_window`, where), `${arch}.attention.sliding_window`, where);
    if (get('attention.sliding_window') === undefined && (c.numLayers === 32 || c.numLayers === 40) && c.maxPositionEmbeddings === 4096) window = 2047;
    if (window > 0 && window < c.maxPositionEmbeddings) Object.assign(c, { slidingWindow: window, slidingLayers: new Array<boolean>(c.numLayers).fill(true) });
  }
  return withLongRope(withLayers(c));
}

/** A count that may be 0 (phi3.attention.sliding_window: 0 means none). */
function posIntOrZero(v: unknown, field: string, where: string): number {
  const n = typeof v === 'bigint' ? Number(v) : v;
  return n === 0 ? 0 : posInt(v, field, where);
}

/** Per-layer values (head_count_kv in some files) must be the same in every layer here. */
function uniform(v: GgufValue | undefined, field: string, where: string): GgufValue | undefined {
  if (!Array.isArray(v)) return v;
  if (v.length === 0 || v.some((x) => x !== v[0])) {
    throw new HearthError('UNSUPPORTED_ARCHITECTURE', `${where}: ${field} differs between layers, which Hearth does not support.`, { details: { field } });
  }
  return v[0];
}

/**
 * Upper bounds no real model comes near (the largest open models today: 126 layers, hidden
 * 16384, FFN 53248, 128 heads, head size 256, vocabulary 262144, 10M positions). A value past
 * one is a damaged or hostile file, refused before anything is sized from it: a block count of
 * 2^31 would otherwise build billions of tensor names and run the process out of memory.
 */
export const CONFIG_LIMITS: Readonly<Record<'hiddenSize' | 'intermediateSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'headDim' | 'vocabSize' | 'rotaryDim' | 'maxPositionEmbeddings', number>> = {
  numLayers: 1024,
  hiddenSize: 1 << 17,
  intermediateSize: 1 << 20,
  numHeads: 4096,
  numKvHeads: 4096,
  headDim: 4096,
  rotaryDim: 4096,
  vocabSize: 1 << 24,
  maxPositionEmbeddings: 1 << 28,
};

/** The file's own spelling of each config field, for messages (HF, GGUF without the arch prefix). */
const FIELD_NAMES: Readonly<Record<keyof typeof CONFIG_LIMITS, readonly [string, string]>> = {
  numLayers: ['num_hidden_layers', 'block_count'],
  hiddenSize: ['hidden_size', 'embedding_length'],
  intermediateSize: ['intermediate_size', 'feed_forward_length'],
  numHeads: ['num_attention_heads', 'attention.head_count'],
  numKvHeads: ['num_key_value_heads', 'attention.head_count_kv'],
  headDim: ['head_dim', 'attention.key_length'],
  rotaryDim: ['partial_rotary_factor', 'rope.dimension_count'],
  vocabSize: ['vocab_size', 'tokenizer.ggml.tokens'],
  maxPositionEmbeddings: ['max_position_embeddings', 'context_length'],
};

/** The field as the file spells it ('llama.block_count', 'num_hidden_layers'), for messages. */
export function configFieldName(c: Pick<ModelConfig, 'architecture'>, field: keyof typeof CONFIG_LIMITS, format: 'gguf' | 'safetensors' | undefined): string {
  const [hf, gguf] = FIELD_NAMES[field];
  if (format === 'gguf') return gguf.startsWith('tokenizer.') ? gguf : `${c.architecture}.${gguf}`;
  if (format === 'safetensors') return hf;
  return field;
}

/** Cross-field checks: CORRUPT_FILE naming the field. */
export function validateConfig(c: ModelConfig, where = 'model config', format?: 'gguf' | 'safetensors'): void {
  for (const f of Object.keys(CONFIG_LIMITS) as (keyof typeof CONFIG_LIMITS)[]) {
    const name = configFieldName(c, f, format);
    const v = posInt(c[f], name, where);
    if (v > CONFIG_LIMITS[f]) {
      throw new HearthError('CORRUPT_FILE', `${where}: ${name} is ${v}, beyond the ${CONFIG_LIMITS[f]} that any real model stays under.`, {
        hint: 'The model configuration is damaged or hostile: download the model again.',
        details: { file: where, field: name, value: v, limit: CONFIG_LIMITS[f] },
      });
    }
  }
  if (c.numKvHeads > c.numHeads) {
    throw corrupt(where, `${c.numKvHeads} key/value heads are more than the ${c.numHeads} attention heads.`, configFieldName(c, 'numKvHeads', format));
  }
  posNum(c.rmsNormEps, 'rmsNormEps', where);
  posNum(c.ropeTheta, 'ropeTheta', where);
  if (c.numHeads % c.numKvHeads !== 0) {
    throw corrupt(where, `${c.numHeads} attention heads are not a multiple of ${c.numKvHeads} key/value heads.`, 'numKvHeads');
  }
  if (c.rotaryDim % 2 !== 0 || c.rotaryDim > c.headDim) {
    throw corrupt(where, `rotary dimension ${c.rotaryDim} must be even and at most the head dimension ${c.headDim}.`, 'rotaryDim');
  }
}
