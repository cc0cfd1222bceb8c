/**
 * Tensors from a model file to GPU weights, one tensor at a time: read its bytes, convert
 * (bf16 -> f16, optional quantization at load), upload, drop. JS never holds the whole model.
 */
import { HearthError } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { uploadStorage } from '../gpu/buffers.js';
import { uploadWeight, type GpuWeight } from '../gpu/weights.js';
import { ACT_BLOCK, dequantize, dequantizeGgml, FORMATS, formatOfGgml, nativeByteLength, quantize, type ActQuant, type WeightFormat } from '../quant/formats.js';
import { bf16BitsToF32 } from '../util/f16.js';
import { localInvFreq, modelInvFreq } from './rope-table.js';
import type { ModelSource } from '../hub/byte-source.js';
import { readTensor, type ModelFiles } from '../formats/model-files.js';
import type { ModelConfig } from '../formats/config.js';
import { tensorByteLength, type TensorDtype, type TensorInfo } from '../formats/tensors.js';
import { isGgmlConvertedType } from '../formats/ggml-quants.js';
import type { LayerWeights, ModelWeights, Projection } from './weights.js';

/** An RMSNorm weight as the kernels multiply by: Gemma's Hugging Face checkpoints store w for 1 + w. */
export function normWeight(c: Pick<ModelConfig, 'normWeightOffset'>, w: Float32Array): Float32Array {
  if (c.normWeightOffset === 0) return w;
  return Float32Array.from(w, (v) => v + c.normWeightOffset);
}

/** What matrices are quantized to at load on request. Absent: as in the file (bf16 becomes f16). */
export type WeightDtype = 'f32' | 'f16' | 'q8_0' | 'q4_0';

export interface LoadProgress {
  phase: 'download' | 'cache' | 'upload' | 'compile';
  loaded: number;
  total: number;
  file?: string;
}

export interface LoadWeightsOptions {
  dtype?: WeightDtype;
  /**
   * The KV cache length the weights serve: LongRoPE models (Phi-3) pick their short or long RoPE
   * factors by it. Default: min(model maximum, 4096), the engine's default.
   */
  contextLength?: number;
  onProgress?: (p: LoadProgress) => void;
  signal?: AbortSignal;
}

export interface LoadedWeights {
  weights: ModelWeights;
  bytes: number;
  /** How many matrices ended up in each format. */
  formats: Record<string, number>;
}


/** Any supported tensor's bytes as f32 values. */
export function tensorToF32(info: TensorInfo, bytes: Uint8Array): Float32Array {
  const count = info.shape.reduce((a, b) => a * b, 1);
  if (info.dtype === 'BF16') {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = bf16BitsToF32(dv.getUint16(i * 2, true));
    return out;
  }
  if (isGgmlConvertedType(info.dtype)) return dequantizeGgml(info.dtype, bytes, count);
  const f = formatOfGgml(info.dtype);
  if (!f) throw new HearthError('UNSUPPORTED_TENSOR_TYPE', `Tensor ${info.sourceName} has type ${info.dtype}, which Hearth cannot load.`);
  return dequantize(f, bytes, count);
}

/**
 * The GPU format a matrix gets when the caller did not ask for one: its own where the kernels
 * read it as stored (F32, F16, Q8_0, Q4_0, Q4_1, Q5_0, Q4_K, Q5_K, Q6_K: src/quant/formats.ts),
 * f16 for BF16, and q8_0 for ggml's other block types (Q5_1, Q2_K, Q3_K, IQ4_NL, IQ4_XS): q8_0
 * keeps their values to within 1/254 of each 32-value block's largest, far below their own
 * quantization error, where re-quantizing to q4_0 would add a second 4-bit rounding.
 */
export function defaultGpuFormat(dtype: TensorDtype): WeightFormat {
  return formatOfGgml(dtype) ?? (isGgmlConvertedType(dtype) ? 'q8_0' : 'f16');
}

/** ggml's vec_dot_type of each quantized type: what llama.cpp's CPU backend quantizes a matrix's input to. */
const VEC_DOT_TYPE: Partial<Record<TensorDtype, ActQuant>> = {
  Q4_0: 'q8_0', Q5_0: 'q8_0', Q8_0: 'q8_0', IQ4_NL: 'q8_0',
  // Q8_1: the values of Q8_0 plus each block's sum
  Q4_1: 'q8_0', Q5_1: 'q8_0',
  Q2_K: 'q8_K', Q3_K: 'q8_K', Q4_K: 'q8_K', Q5_K: 'q8_K', Q6_K: 'q8_K', IQ4_XS: 'q8_K',
};

/**
 * How the input activations of a matrix are quantized before the matmul, as llama.cpp does
 * before a dot product with quantized weights (null: kept in f32). A matrix from a quantized
 * GGUF tensor follows its source type, whatever format it has on the GPU (a Q4_K widened to
 * q8_0 still takes q8_K activations; a --dtype f32 load of a quantized file too, so the weights
 * are exact and the arithmetic is llama.cpp's). A float tensor quantized at load (dtype q8_0 or
 * q4_0) is a Q8_0/Q4_0 matrix as llama-quantize would make it: q8_0 activations, which the
 * packed int8 dot products will need anyway. Float weights kept as floats: none (llama.cpp
 * multiplies F32/BF16 in f32; F16 in f16, which Hearth does not copy).
 */
export function activationQuant(info: TensorInfo, want: WeightDtype | undefined): ActQuant | null {
  const cols = info.shape[info.shape.length - 1]!;
  const fromSource = VEC_DOT_TYPE[info.dtype];
  const kind = fromSource ?? (want === 'q8_0' || want === 'q4_0' ? 'q8_0' : null);
  return kind && cols % ACT_BLOCK[kind] === 0 ? kind : null;
}

/** Pick the GPU format of a matrix and produce its native bytes in that format. */
export function convertMatrix(info: TensorInfo, bytes: Uint8Array, want: WeightDtype | undefined): { format: WeightFormat; data: Uint8Array } {
  const cols = info.shape[info.shape.length - 1]!;
  const native = formatOfGgml(info.dtype);
  let target: WeightFormat = want ?? defaultGpuFormat(info.dtype);
  // block formats need whole blocks per row; other rows stay in f16
  if (cols % FORMATS[target].block !== 0) target = 'f16';
  if (native === target) return { format: target, data: bytes };
  // a few rows at a time, so a large table (a 128k-token embedding) never exists as f32 at once;
  // every format quantizes each row on its own, so this is exact
  const rows = info.shape.reduce((a, b) => a * b, 1) / cols;
  const inRow = tensorByteLength(info.dtype, [cols]);
  const outRow = nativeByteLength(target, 1, cols);
  const out = new Uint8Array(rows * outRow);
  const step = Math.max(1, Math.floor(CONVERT_VALUES / cols));
  for (let r = 0; r < rows; r += step) {
    const n = Math.min(step, rows - r);
    const part = tensorToF32({ ...info, shape: [n, cols] }, bytes.subarray(r * inRow, (r + n) * inRow));
    out.set(quantize(target, part), r * outRow);
  }
  return { format: target, data: out };
}

/** Values converted per step by convertMatrix. */
const CONVERT_VALUES = 1 << 20;

export async function loadWeights(ctx: GpuContext, source: ModelSource, files: ModelFiles, opts: LoadWeightsOptions = {}): Promise<LoadedWeights> {
  const c = files.config;
  const t = files.tensors;
  const total = [...t.values()].reduce((s, x) => s + x.byteLength, 0);
  let loaded = 0;
  let bytes = 0;
  const formats: Record<string, number> = {};

  const get = (name: string): TensorInfo => {
    const info = t.get(name);
    if (!info) throw new HearthError('CORRUPT_FILE', `The model has no tensor ${name}.`, { hint: 'The file is incomplete or not a Llama-family model.' });
    return info;
  };
  const read = async (info: TensorInfo): Promise<Uint8Array> => {
    if (opts.signal?.aborted) throw new HearthError('ABORTED', 'Loading was aborted.');
    const b = await readTensor(source, info, opts.signal);
    loaded += info.byteLength;
    opts.onProgress?.({ phase: 'upload', loaded, total, file: info.file });
    return b;
  };
  /** A matrix's bytes in its GPU format, its shape checked against the config. */
  const converted = async (name: string, rows: number, cols: number): Promise<{ format: WeightFormat; data: Uint8Array; actQuant: ActQuant | null }> => {
    const info = get(name);
    const shape = info.shape;
    if (shape.length !== 2 || shape[0] !== rows || shape[1] !== cols) {
      throw new HearthError('CORRUPT_FILE', `Tensor ${info.sourceName} has shape [${shape}], expected [${rows}, ${cols}].`, { hint: 'The file does not match its own config.' });
    }
    return { ...convertMatrix(info, await read(info), opts.dtype), actQuant: activationQuant(info, opts.dtype) };
  };
  type Converted = { format: WeightFormat; data: Uint8Array; actQuant: ActQuant | null };
  const upload = (label: string, m: Converted, rows: number, cols: number, data = m.data, matrices = 1): GpuWeight => {
    const w = uploadWeight(ctx, m.format, rows, cols, data, { label, actQuant: m.actQuant });
    const format = m.format;
    formats[format] = (formats[format] ?? 0) + matrices;
    bytes += w.bytes;
    return w;
  };
  const matrix = async (name: string, rows: number, cols: number): Promise<GpuWeight> => {
    return upload(name, await converted(name, rows, cols), rows, cols);
  };
  const values = async (name: string, length: number): Promise<Float32Array> => {
    const info = get(name);
    const v = tensorToF32(info, await read(info));
    if (v.length !== length) throw new HearthError('CORRUPT_FILE', `Tensor ${info.sourceName} has ${v.length} values, expected ${length}.`);
    return v;
  };
  const vectorOf = (name: string, v: Float32Array): GPUBuffer => {
    bytes += v.byteLength;
    return uploadStorage(ctx, v, name);
  };
  /** An RMSNorm weight, as the kernels use it (Gemma's Hugging Face files store w for 1 + w). */
  const norm = async (name: string, length: number): Promise<GPUBuffer> => vectorOf(name, normWeight(c, await values(name, length)));

  /**
   * Matrices sharing one input ([rows_i, cols] each, with optional biases) as one projection: one
   * matrix of their rows concatenated (and its bias) when all share a format and an activation
   * quantization, one part per matrix otherwise.
   */
  const projection = async (p: string, outs: { name: string; rows: number; bias?: string }[], cols: number, fusedName: string): Promise<Projection> => {
    const mats: (Converted & { name: string; rows: number })[] = [];
    for (const o of outs) mats.push({ name: `${p}.${o.name}`, rows: o.rows, ...(await converted(`${p}.${o.name}`, o.rows, cols)) });
    const biases: (Float32Array | null)[] = [];
    for (const o of outs) biases.push(o.bias && t.has(`${p}.${o.bias}`) ? await values(`${p}.${o.bias}`, o.rows) : null);
    if (mats.some((m) => m.format !== mats[0]!.format || m.actQuant !== mats[0]!.actQuant)) {
      return { parts: mats.map((m, i) => ({ weight: upload(m.name, m, m.rows, cols), bias: biases[i] ? vectorOf(`${m.name}_bias`, biases[i]!) : null, outputs: [i] })) };
    }
    const all = new Uint8Array(mats.reduce((s, m) => s + m.data.byteLength, 0));
    let at = 0;
    for (const m of mats) {
      all.set(m.data, at);
      at += m.data.byteLength;
    }
    const rows = mats.reduce((s, m) => s + m.rows, 0);
    let bias: GPUBuffer | null = null;
    if (biases.some((b) => b)) {
      // a missing one (never seen in practice) adds zeros
      const b = new Float32Array(rows);
      let off = 0;
      biases.forEach((x, i) => {
        if (x) b.set(x, off);
        off += mats[i]!.rows;
      });
      bias = vectorOf(`${p}.${fusedName}_bias`, b);
    }
    return { parts: [{ weight: upload(`${p}.${fusedName}`, mats[0]!, rows, cols, all, mats.length), bias, outputs: mats.map((_, i) => i) }] };
  };

  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const embed = await matrix('embed', c.vocabSize, c.hiddenSize);
  const layers: LayerWeights[] = [];
  const D = c.hiddenSize;
  const I = c.intermediateSize;
  for (let l = 0; l < c.numLayers; l++) {
    const p = `layers.${l}`;
    layers.push({
      attnNorm: await norm(`${p}.attn_norm`, D),
      qkv: await projection(p, [{ name: 'q', rows: qDim, bias: 'q_bias' }, { name: 'k', rows: kvDim, bias: 'k_bias' }, { name: 'v', rows: kvDim, bias: 'v_bias' }], D, 'qkv'),
      qNorm: c.qkNorm ? await norm(`${p}.q_norm`, c.headDim) : null,
      kNorm: c.qkNorm ? await norm(`${p}.k_norm`, c.headDim) : null,
      o: await matrix(`${p}.o`, D, qDim),
      postAttnNorm: c.postNorms ? await norm(`${p}.post_attn_norm`, D) : null,
      ffnNorm: await norm(`${p}.ffn_norm`, D),
      gateUp: await projection(p, [{ name: 'gate', rows: I }, { name: 'up', rows: I }], D, 'gate_up'),
      down: await matrix(`${p}.down`, D, I),
      postFfnNorm: c.postNorms ? await norm(`${p}.post_ffn_norm`, D) : null,
    });
  }
  const finalNorm = await norm('final_norm', D);
  const lmHead = !c.tieWordEmbeddings && t.has('lm_head') ? await matrix('lm_head', c.vocabSize, D) : embed;
  const invFreq = uploadStorage(ctx, modelInvFreq(c, opts.contextLength ?? Math.min(c.maxPositionEmbeddings, 4096)), 'inv_freq');
  const invFreqLocal = c.ropeLocalTheta !== null && c.slidingLayers.some(Boolean) ? uploadStorage(ctx, localInvFreq(c), 'inv_freq.local') : null;
  return { weights: { embed, layers, finalNorm, lmHead, invFreq, invFreqLocal }, bytes, formats };
}
