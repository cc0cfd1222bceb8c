import { HearthError } from '../errors.js';
import { GGML_CONVERTED_LAYOUT, type GgmlConvertedType } from './ggml-quants.js';

/**
 * Tensor element types Hearth can load. F32/F16/Q8_0/Q4_0 go to the GPU as they are; BF16 and
 * the other ggml block types are converted at load (see models/load.ts). GGUF's remaining types
 * (IQ1..IQ3, ternary, MXFP4) are recognized by name and refused.
 */
export type TensorDtype = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | GgmlConvertedType;

export const TENSOR_DTYPES: readonly TensorDtype[] = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', ...(Object.keys(GGML_CONVERTED_LAYOUT) as GgmlConvertedType[])];

/** The dtypes a safetensors file may hold for Hearth. */
export const SAFETENSORS_DTYPES: readonly TensorDtype[] = ['F32', 'F16', 'BF16'];

export interface TensorInfo {
  /** Canonical name ('layers.3.q'), or the source name for tensors Hearth has no name for. */
  name: string;
  /** The name in the file ('model.layers.3.self_attn.q_proj.weight', 'blk.3.attn_q.weight'). */
  sourceName: string;
  /** The file inside the model source that holds the bytes. */
  file: string;
  /** Absolute byte offset in `file`. */
  offset: number;
  byteLength: number;
  dtype: TensorDtype;
  /** Row-major, outermost first: [out, in] for matrices. */
  shape: number[];
}

/** Elements per block and bytes per block; plain types are blocks of one. */
export const DTYPE_LAYOUT: Readonly<Record<TensorDtype, { block: number; bytes: number }>> = {
  F32: { block: 1, bytes: 4 },
  F16: { block: 1, bytes: 2 },
  BF16: { block: 1, bytes: 2 },
  Q8_0: { block: 32, bytes: 34 },
  Q4_0: { block: 32, bytes: 18 },
  ...GGML_CONVERTED_LAYOUT,
};

export function isTensorDtype(s: string): s is TensorDtype {
  return (TENSOR_DTYPES as readonly string[]).includes(s);
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Bytes of a tensor. Quantized blocks run along the innermost dimension, so it must be a whole
 * number of blocks; `where` names the tensor in the error.
 */
export function tensorByteLength(dtype: TensorDtype, shape: readonly number[], where = 'tensor'): number {
  const { block, bytes } = DTYPE_LAYOUT[dtype];
  const inner = shape.length ? shape[shape.length - 1]! : 1;
  if (inner % block !== 0) {
    throw new HearthError('CORRUPT_FILE', `${where} is ${dtype} but its rows have ${inner} elements, not a multiple of ${block}.`, { details: { dtype, shape: [...shape] } });
  }
  return (elementCount(shape) / block) * bytes;
}

// ---- canonical names -------------------------------------------------------------------------

/**
 * Per-layer tensors: canonical suffix -> [Hugging Face suffix, GGUF suffix]. Gemma 3 names its
 * four norms differently in Hugging Face checkpoints (its post_attention_layernorm is a norm after
 * attention, not Llama's norm before the MLP): see GEMMA3_LAYER_NAMES.
 */
const LAYER_NAMES: Readonly<Record<string, readonly [string, string]>> = {
  attn_norm: ['input_layernorm.weight', 'attn_norm.weight'],
  q: ['self_attn.q_proj.weight', 'attn_q.weight'],
  k: ['self_attn.k_proj.weight', 'attn_k.weight'],
  v: ['self_attn.v_proj.weight', 'attn_v.weight'],
  o: ['self_attn.o_proj.weight', 'attn_output.weight'],
  q_bias: ['self_attn.q_proj.bias', 'attn_q.bias'],
  k_bias: ['self_attn.k_proj.bias', 'attn_k.bias'],
  v_bias: ['self_attn.v_proj.bias', 'attn_v.bias'],
  q_norm: ['self_attn.q_norm.weight', 'attn_q_norm.weight'],
  k_norm: ['self_attn.k_norm.weight', 'attn_k_norm.weight'],
  ffn_norm: ['post_attention_layernorm.weight', 'ffn_norm.weight'],
  gate: ['mlp.gate_proj.weight', 'ffn_gate.weight'],
  up: ['mlp.up_proj.weight', 'ffn_up.weight'],
  down: ['mlp.down_proj.weight', 'ffn_down.weight'],
};

const GEMMA3_LAYER_NAMES: Readonly<Record<string, readonly [string, string]>> = {
  ...LAYER_NAMES,
  post_attn_norm: ['post_attention_layernorm.weight', 'post_attention_norm.weight'],
  ffn_norm: ['pre_feedforward_layernorm.weight', 'ffn_norm.weight'],
  post_ffn_norm: ['post_feedforward_layernorm.weight', 'post_ffw_norm.weight'],
};

/**
 * Phi-3 stores its projections fused: q|k|v rows in one matrix, gate|up rows in another (llama.cpp
 * keeps them so: attn_qkv, and ffn_up holding gate then up, with no ffn_gate). They are read under
 * the fused canonical names 'qkv' and 'gate_up' and split into q, k, v and gate, up (row ranges of
 * the same bytes) once the config is known: splitFusedTensors.
 */
const PHI3_LAYER_NAMES: Readonly<Record<string, readonly [string, string]>> = (() => {
  const { up: _up, gate: _gate, ...rest } = LAYER_NAMES;
  return {
    ...rest,
    qkv: ['self_attn.qkv_proj.weight', 'attn_qkv.weight'],
    qkv_bias: ['self_attn.qkv_proj.bias', 'attn_qkv.bias'],
    gate_up: ['mlp.gate_up_proj.weight', 'ffn_up.weight'],
  };
})();

/** Whole-model tensors: canonical -> [Hugging Face, GGUF]. */
const GLOBAL_NAMES: Readonly<Record<string, readonly [string, string]>> = {
  embed: ['model.embed_tokens.weight', 'token_embd.weight'],
  final_norm: ['model.norm.weight', 'output_norm.weight'],
  lm_head: ['lm_head.weight', 'output.weight'],
};

export type TensorNaming = 'hf' | 'gguf';

/** Which spelling table a file's architecture uses ('gemma3', 'phi3'; every other family shares Llama's). */
export type NameTable = 'llama' | 'gemma3' | 'phi3';

function tableFor(arch: string | undefined): NameTable {
  if (arch === 'gemma3' || arch === 'gemma3_text' || arch === 'Gemma3ForCausalLM' || arch === 'Gemma3ForConditionalGeneration') return 'gemma3';
  if (arch === 'phi3' || arch === 'Phi3ForCausalLM') return 'phi3';
  return 'llama';
}

const layerNames = (t: NameTable) => (t === 'gemma3' ? GEMMA3_LAYER_NAMES : t === 'phi3' ? PHI3_LAYER_NAMES : LAYER_NAMES);

type Lookup = { global: Map<string, string>; layer: Map<string, string> };
const fromSource = new Map<string, Lookup>();
for (const table of ['llama', 'gemma3', 'phi3'] as const) {
  for (const [naming, idx] of [['hf', 0], ['gguf', 1]] as const) {
    const l: Lookup = { global: new Map(), layer: new Map() };
    for (const [canon, names] of Object.entries(GLOBAL_NAMES)) l.global.set(names[idx], canon);
    if (naming === 'hf') {
      // checkpoints saved from the bare model (not ...ForCausalLM) drop the 'model.' prefix
      l.global.set('embed_tokens.weight', 'embed');
      l.global.set('norm.weight', 'final_norm');
    }
    for (const [canon, names] of Object.entries(layerNames(table))) l.layer.set(names[idx], canon);
    fromSource.set(`${table}:${naming}`, l);
  }
}

const HF_LAYER = /^(?:model\.)?layers\.(\d+)\.(.+)$/;
const GGUF_LAYER = /^blk\.(\d+)\.(.+)$/;
/** The text model inside a multimodal checkpoint (Gemma3ForConditionalGeneration): older and newer transformers. */
const HF_TEXT_PREFIX = /^(?:language_model\.|model\.language_model\.)/;

/**
 * The canonical name of a source tensor, or the source name itself when it has none. `arch`:
 * GGUF's general.architecture or config.json's architectures[0] (names differ by family).
 */
export function canonicalTensorName(sourceName: string, naming: TensorNaming, arch?: string): string {
  const table = fromSource.get(`${tableFor(arch)}:${naming}`)!;
  let name = sourceName;
  if (naming === 'hf' && HF_TEXT_PREFIX.test(name)) name = name.replace(HF_TEXT_PREFIX, name.startsWith('model.language_model.') ? 'model.' : '');
  const global = table.global.get(name);
  if (global) return global;
  const m = (naming === 'hf' ? HF_LAYER : GGUF_LAYER).exec(name);
  if (m) {
    const suffix = table.layer.get(m[2]!);
    if (suffix) return `layers.${Number(m[1])}.${suffix}`;
  }
  return sourceName;
}

/** True for names Hearth's forward pass knows (as opposed to extras kept under their source name). */
export function isCanonicalName(name: string): boolean {
  if (name in GLOBAL_NAMES) return true;
  const m = /^layers\.\d+\.(.+)$/.exec(name);
  return m !== null && (m[1]! in GEMMA3_LAYER_NAMES || m[1]! in PHI3_LAYER_NAMES);
}

/** The source name a canonical tensor gets in a file: the inverse of canonicalTensorName. */
export function sourceTensorName(canonical: string, naming: TensorNaming, arch?: string): string {
  const idx = naming === 'hf' ? 0 : 1;
  const global = GLOBAL_NAMES[canonical];
  if (global) return global[idx];
  const m = /^layers\.(\d+)\.(.+)$/.exec(canonical);
  const layer = m ? layerNames(tableFor(arch))[m[2]!] : undefined;
  if (m && layer) return naming === 'hf' ? `model.layers.${m[1]}.${layer[0]}` : `blk.${m[1]}.${layer[1]}`;
  return canonical;
}

// ---- stored-fused matrices ---------------------------------------------------------------------

/** Fused canonical tensor -> its parts, in row order. */
export const FUSED_TENSORS: Readonly<Record<string, readonly string[]>> = {
  qkv: ['q', 'k', 'v'],
  qkv_bias: ['q_bias', 'k_bias', 'v_bias'],
  gate_up: ['gate', 'up'],
};

/**
 * A fused tensor (its rows the parts' rows, one after another) as one TensorInfo per part, each
 * the byte range of its rows: blocks run along the innermost dimension, so a row range of a
 * row-major tensor is one contiguous range. `parts`: each part's canonical name and row count
 * (its outermost dimension); the counts must add up to the fused tensor's.
 */
export function splitRows(fused: TensorInfo, parts: readonly { name: string; rows: number }[], where: string): TensorInfo[] {
  const total = parts.reduce((s, p) => s + p.rows, 0);
  const inner = fused.shape.slice(1);
  if (fused.shape[0] !== total) {
    throw new HearthError('CORRUPT_FILE', `${where}: tensor ${fused.sourceName} has shape [${fused.shape.join(', ')}], but the config implies [${[total, ...inner].join(', ')}] (${parts.map((p) => `${p.rows} ${p.name.split('.').pop()}`).join(' + ')} rows).`, {
      hint: 'The weights do not match the model configuration.',
      details: { tensor: fused.sourceName, shape: fused.shape, expected: [total, ...inner] },
    });
  }
  const rowBytes = tensorByteLength(fused.dtype, [1, ...inner], `${where}: tensor ${fused.sourceName}`);
  const out: TensorInfo[] = [];
  let row = 0;
  for (const p of parts) {
    out.push({ ...fused, name: p.name, sourceName: `${fused.sourceName}[${row}:${row + p.rows}]`, offset: fused.offset + row * rowBytes, byteLength: p.rows * rowBytes, shape: [p.rows, ...inner] });
    row += p.rows;
  }
  return out;
}
