import common from '../../shaders/common.wgsl?raw';
import attentionCommon from '../../shaders/attention_common.wgsl?raw';
import prefillSource from '../../shaders/attention_prefill.wgsl?raw';
import prefillRowSource from '../../shaders/attention_prefill_row.wgsl?raw';
import prefillRowsSource from '../../shaders/attention_prefill_rows.wgsl?raw';
import prefillWgSource from '../../shaders/attention_prefill_wg.wgsl?raw';
import prefillSgSource from '../../shaders/attention_prefill_sg.wgsl?raw';
import enableSubgroups from '../../shaders/attention_enable_subgroups.wgsl?raw';
import decodeSource from '../../shaders/attention_decode.wgsl?raw';
import kvF32 from '../../shaders/attention_kv_f32.wgsl?raw';
import kvF16 from '../../shaders/attention_kv_f16.wgsl?raw';
import kvQ8 from '../../shaders/attention_kv_q8.wgsl?raw';
import int8x4 from '../../shaders/int8x4.wgsl?raw';
import { HearthError, check } from '../errors.js';
import { isCpuAdapter, type GpuContext } from '../gpu/device.js';
import { createStorage, uploadUniform, type BufferRange } from '../gpu/buffers.js';
import { bindBuffers, type Dispatch, type Grid, type StepParams } from '../gpu/dispatch.js';
import { kvBytes, kvQ8Constants, type KvFormat } from './kv_append.js';

const KV_WGSL: Record<KvFormat, string> = { f32: kvF32, f16: kvF16, q8: `${int8x4}\n${kvQ8}` };
const prefillWgCode = (kv: KvFormat) => `${common}\n${attentionCommon}\n${KV_WGSL[kv]}\n${prefillSource}\n${prefillRowSource}\n${prefillWgSource}`;
const prefillSgCode = (kv: KvFormat) => `${enableSubgroups}\n${common}\n${attentionCommon}\n${KV_WGSL[kv]}\n${prefillSource}\n${prefillRowSource}\n${prefillSgSource}`;
const prefillRowsCode = (kv: KvFormat) => `${enableSubgroups}\n${common}\n${attentionCommon}\n${KV_WGSL[kv]}\n${prefillSource}\n${prefillRowsSource}`;
const decodeCode = (kv: KvFormat) => `${common}\n${attentionCommon}\n${KV_WGSL[kv]}\n${decodeSource}`;

/** Prefill: query rows per workgroup, most keys per tile (MAX_BK), and vec4s of q and output per thread (Share). */
const PREFILL_ROWS = 16;
const PREFILL_MAX_BK = 32;
const MAX_NV = 8;
/** Subgroup prefill: every subgroup size (4..128) divides the workgroup; a row's lanes fit the smallest. */
const PREFILL_SG_WG = 128;
const PREFILL_SG_MAX_TPR = 4;
/** CPU drivers: a subgroup prefill workgroup (the largest CPU subgroup, llvmpipe's 16 lanes, divides it) and rows per workgroup without subgroups. */
const PREFILL_CPU_SG_WG = 16;
const PREFILL_CPU_ROWS = 4;
/**
 * Decode: threads per workgroup (on a CPU driver the fewest that give a head DV threads: each
 * barrier there costs a switch per 4 threads), keys per chunk, and most scores a chunk keeps in
 * workgroup memory.
 */
const DECODE_WG = 64;
const DECODE_CPU_MIN_WG = 4;
const DECODE_CHUNK = 256;
const DECODE_SCORES = 2048;
const REDUCE_WG = 64;
/** Split lengths are multiples of this (split_len in attention_decode.wgsl). */
const SPLIT_ALIGN = 64;
const WORKGROUP_BYTES = 16384;
const LOG2E = Math.LOG2E;

export interface AttentionArgs {
  step: GPUBuffer;
  /** [tokens, nHeads, headDim] f32 */
  q: BufferRange;
  /** [nKvHeads, maxCtx, headDim] in kvFormat, positions 0..pos+tokens-1 filled */
  kCache: GPUBuffer;
  vCache: GPUBuffer;
  /** How the caches hold their values: 'f32' (default), 'f16' (two halves per u32) or 'q8' (kv_append.ts). */
  kvFormat?: KvFormat;
  /** [tokens, nHeads * headDim] f32 */
  out: GPUBuffer;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  maxCtx: number;
  /** Largest step.tokens this launch will see. */
  maxTokens: number;
  /** Softmax scale; 1/sqrt(headDim) by default (Gemma: query_pre_attn_scalar^-0.5). */
  scale?: number;
  /**
   * Sliding window: a query at position p sees the keys at positions j with p - window < j <= p, the
   * current one included (Hugging Face's and llama.cpp's convention). 0 or absent: full causal attention.
   * The cache keeps its [nKvHeads, maxCtx, headDim] layout; keys before the window are never read.
   */
  window?: number;
  /** Decode split count (see attentionPlan for the default). */
  splits?: number;
  /**
   * Query rows a prefill thread takes: 4 by default on CPU drivers with subgroups and at most 4 lanes
   * a row (each K/V value a thread loads then meets four queries), else 1. For tests and A/B runs.
   */
  prefillRows?: 1 | 4;
  /**
   * Decode scratch of at least attentionScratchBytes(ctx, ...) bytes. Layers run one after another, so
   * one scratch can serve them all; without it each call allocates its own.
   */
  scratch?: GPUBuffer;
}

/** The tile sizes and split count a launch uses, worked out from the shape. */
export interface AttentionPlan {
  /**
   * Threads per workgroup and per query row, query rows per thread and per workgroup, keys per tile,
   * vec4s per thread; whether the lanes of a row combine their dot products with subgroup shuffles or
   * workgroup memory.
   */
  prefill: { wg: number; tpr: number; rows: number; bq: number; bk: number; nv: number; subgroups: boolean; workgroupBytes: number };
  /** KV splits, query heads per workgroup (all of one kv head), keys scored per thread per chunk. */
  decode: { wg: number; splits: number; headsPerWorkgroup: number; keysPerThread: number; workgroupBytes: number };
  /** Bytes of the decode scratch (AttentionArgs.scratch). */
  scratchBytes: number;
}

export type AttentionPlanInput = Pick<AttentionArgs, 'nHeads' | 'nKvHeads' | 'headDim' | 'maxCtx' | 'splits' | 'prefillRows'>;

export interface AttentionPlanOptions {
  /** A CPU driver (SwiftShader, llvmpipe): few, large decode splits. */
  cpu?: boolean;
  /** The device has 'subgroups': prefill rows of up to 4 lanes reduce with shuffles. */
  subgroups?: boolean;
}

/**
 * Tile sizes for a shape. Default splits: on a GPU, one per 64 positions of maxCtx up to 32, so a long
 * context fills the machine; on a CPU driver, at most 4, as each workgroup costs a lot there.
 */
export function attentionPlan(a: AttentionPlanInput, options: AttentionPlanOptions = {}): AttentionPlan {
  checkShape(a);
  const dv = a.headDim / 4;

  // Fewest threads per row that keep a thread's share of q and output within MAX_NV vec4s:
  // more rows per workgroup means each K/V read serves more queries.
  let tpr = 1;
  while (Math.ceil(dv / tpr) > MAX_NV) tpr *= 2;
  // Four rows a thread (CPU drivers) shuffle within a subgroup: a row wider than that many lanes
  // allow at 8 vec4s a lane (head size 256) takes up to 16 vec4s a lane instead.
  if (options.cpu && options.subgroups && a.prefillRows !== 1 && tpr > PREFILL_SG_MAX_TPR && Math.ceil(dv / PREFILL_SG_MAX_TPR) <= 2 * MAX_NV) tpr = PREFILL_SG_MAX_TPR;
  const sg = !!options.subgroups && tpr <= PREFILL_SG_MAX_TPR;
  // CPU drivers: few rows per workgroup, as every barrier there switches between each 4 threads
  const wg = options.cpu ? (sg ? PREFILL_CPU_SG_WG : PREFILL_CPU_ROWS * tpr) : sg ? PREFILL_SG_WG : Math.min(128, Math.max(64, PREFILL_ROWS * tpr));
  // Without subgroups: the largest multiple of 4 keys whose double-buffered partial sums,
  // 2 * WG * (BK + 1) floats, fit in workgroup memory.
  const bk = sg ? PREFILL_MAX_BK : Math.min(PREFILL_MAX_BK, Math.floor((WORKGROUP_BYTES / (8 * wg) - 1) / 4) * 4);
  // CPU drivers: four rows a thread (attention_prefill_rows.wgsl), whose lanes reduce with shuffles
  const rows = a.prefillRows ?? (options.cpu && sg ? 4 : 1);
  check(rows === 1 || (rows === 4 && sg), `attention: prefillRows ${rows} needs subgroups and at most ${PREFILL_SG_MAX_TPR} lanes a row (1 or 4).`);
  check(Math.ceil(dv / tpr) <= (rows === 4 ? 2 : 1) * MAX_NV, `attention: head size ${a.headDim} needs four prefill rows a thread on this device (prefillRows 4).`);

  // Decode: as many heads of one kv group per workgroup as leave each head at least DV threads.
  const group = a.nHeads / a.nKvHeads;
  const dwg = options.cpu ? Math.max(DECODE_CPU_MIN_WG, 2 ** Math.ceil(Math.log2(dv))) : DECODE_WG;
  let hpw = Math.max(1, Math.min(group, Math.floor(dwg / dv)));
  while (group % hpw !== 0) hpw--;
  const ks = Math.floor(dwg / hpw);
  const kg = Math.floor(ks / dv);
  const kpt = Math.max(1, Math.floor(Math.min(DECODE_CHUNK, DECODE_SCORES / hpw) / ks));
  const cap = options.cpu ? 4 : 32;
  const splits = a.splits ?? Math.min(cap, Math.max(1, Math.ceil(a.maxCtx / (options.cpu ? DECODE_CHUNK : SPLIT_ALIGN))));
  check(Number.isInteger(splits) && splits >= 1 && splits <= 1024, `attention: splits must be an integer in 1..1024, got ${splits}.`);
  // Mirrors the workgroup arrays of attention_decode.wgsl: qs, sc, chunk_max, red, red_l.
  const decodeBytes = hpw * dv * 16 + hpw * ks * kpt * 4 + 2 * hpw * 4 + (hpw * (kg - 1) * dv + 1) * 16 + (hpw * (kg - 1) + 1) * 4;
  return {
    prefill: { wg, tpr, rows, bq: (rows * wg) / tpr, bk, nv: Math.ceil(dv / tpr), subgroups: sg, workgroupBytes: sg ? 4 : 2 * wg * (bk + 1) * 4 },
    decode: { wg: dwg, splits, headsPerWorkgroup: hpw, keysPerThread: kpt, workgroupBytes: decodeBytes },
    scratchBytes: a.nHeads * splits * (dv + 1) * 16,
  };
}

/** Bytes of the decode scratch `attention` needs on this device: size a scratch shared by all layers with it. */
export function attentionScratchBytes(ctx: GpuContext, a: AttentionPlanInput): number {
  return attentionPlan(a, planOptions(ctx)).scratchBytes;
}

function planOptions(ctx: GpuContext): AttentionPlanOptions {
  return { cpu: isCpuAdapter(ctx), subgroups: ctx.features.subgroups };
}

/**
 * Mirrors split_len and window_start in attention_decode.wgsl: the grid and the shader must agree on
 * the active splits, which cover the keys a decode query sees (the last `window` of them, if set).
 */
function activeSplits(kvLen: number, splits: number, window: number): number {
  const len = window > 0 ? Math.min(kvLen, window) : kvLen;
  const even = Math.ceil(len / splits);
  const per = Math.ceil(even / SPLIT_ALIGN) * SPLIT_ALIGN;
  return Math.ceil(len / per);
}

/**
 * Causal attention with grouped KV heads over the KV cache (optionally within a sliding window), for
 * prefill and decode alike. Returns
 * the prefill launch (flash attention, runs when step.tokens > 1), then the decode launches
 * (split-K flash-decoding and its reduce, run when step.tokens == 1); each idles at the other kind of step.
 * Dispatch labels: `${label}.prefill`, `${label}.decode`, `${label}.reduce`.
 */
export function attention(ctx: GpuContext, a: AttentionArgs, label = 'attention'): Dispatch[] {
  const plan = attentionPlan(a, planOptions(ctx));
  const { nHeads, nKvHeads, headDim, maxCtx, maxTokens } = a;
  check(Number.isInteger(maxTokens) && maxTokens >= 1, `attention: maxTokens must be a positive integer, got ${maxTokens}.`);
  const qBytes = maxTokens * nHeads * headDim * 4;
  const kv = a.kvFormat ?? 'f32';
  const cacheBytes = kvBytes(kv, nKvHeads * maxCtx * headDim, headDim);
  check(a.q.size >= qBytes, `attention: q holds ${a.q.size} bytes, needs ${qBytes} for ${maxTokens} tokens.`);
  check(a.out.size >= qBytes, `attention: out holds ${a.out.size} bytes, needs ${qBytes} for ${maxTokens} tokens.`);
  check(a.kCache.size >= cacheBytes && a.vCache.size >= cacheBytes, `attention: the K/V caches need ${cacheBytes} bytes each.`);
  if (a.scratch) check(a.scratch.size >= plan.scratchBytes, `attention: scratch holds ${a.scratch.size} bytes, needs ${plan.scratchBytes}.`);

  const window = a.window ?? 0;
  check(Number.isInteger(window) && window >= 0 && window < 2 ** 32, `attention: window must be a non-negative integer (0: none), got ${window}.`);
  const scale = a.scale ?? 1 / Math.sqrt(headDim);
  check(Number.isFinite(scale), `attention: scale must be a finite number, got ${scale}.`);
  const dv = headDim / 4;
  const params = new ArrayBuffer(32);
  const pv = new DataView(params);
  pv.setUint32(0, nHeads, true);
  pv.setUint32(4, nHeads / nKvHeads, true);
  pv.setUint32(8, maxCtx, true);
  pv.setFloat32(12, scale * LOG2E, true);
  pv.setUint32(16, plan.decode.splits, true);
  pv.setUint32(20, window, true);
  const paramsBuf = uploadUniform(ctx, pv, `${label}.params`);
  const scratch = a.scratch ?? createStorage(ctx, plan.scratchBytes, `${label}.scratch`);
  const owned = a.scratch ? [paramsBuf] : [paramsBuf, scratch];

  const checkStep = (s: StepParams): void => {
    if (s.tokens > maxTokens) {
      throw new HearthError('INVALID_ARGUMENT', `${label}: step has ${s.tokens} tokens, more than the ${maxTokens} this launch was prepared for.`);
    }
    if (s.kvLen !== s.pos + s.tokens) {
      throw new HearthError('INVALID_ARGUMENT', `${label}: step.kvLen (${s.kvLen}) must equal pos + tokens (${s.pos + s.tokens}).`);
    }
    if (s.kvLen > maxCtx) {
      throw new HearthError('CONTEXT_OVERFLOW', `${label}: ${s.kvLen} positions exceed the KV cache's ${maxCtx}.`, {
        hint: 'Start a new conversation or load the model with a longer context.',
      });
    }
  };
  const idle: Grid = [0, 0, 0];

  const { wg, tpr, rows, bq, bk, nv, subgroups } = plan.prefill;
  const prefillCode = rows === 4 ? prefillRowsCode(kv) : subgroups ? prefillSgCode(kv) : prefillWgCode(kv);
  // a q8 cache's scales: where they start, and log2 of the vec4s each covers
  const q8 = kv === 'q8' ? kvQ8Constants(nKvHeads * maxCtx * headDim, headDim) : null;
  const cache: Record<string, number> = q8 ? { KV_SCALES: q8.scalesWord, KV_SHIFT: Math.log2(q8.block / 4) } : {};
  const prefill = ctx.pipelines.get(prefillCode, 'main', 'attention.prefill', { WG: wg, DV: dv, TPR: tpr, NV: nv, BK: bk, BQ: bq, ...cache });
  const io = { 0: a.step, 1: paramsBuf, 2: a.q, 3: a.kCache, 4: a.vCache, 5: a.out };

  const hpw = plan.decode.headsPerWorkgroup;
  const split = ctx.pipelines.get(decodeCode(kv), 'split', 'attention.decode', { WG: plan.decode.wg, DV: dv, HPW: hpw, KPT: plan.decode.keysPerThread, ...cache });
  const reduce = ctx.pipelines.get(decodeCode(kv), 'reduce', 'attention.reduce', { WG: REDUCE_WG, DV: dv });

  return [
    {
      label: `${label}.prefill`,
      pipeline: prefill,
      bindGroup: bindBuffers(ctx, prefill, `${label}.prefill`, io),
      owned,
      grid: (s) => {
        checkStep(s);
        return s.tokens > 1 ? [Math.ceil(s.tokens / bq), nHeads, 1] : idle;
      },
    },
    {
      label: `${label}.decode`,
      pipeline: split,
      bindGroup: bindBuffers(ctx, split, `${label}.decode`, { ...io, 6: scratch }),
      grid: (s) => (s.tokens === 1 ? [activeSplits(s.kvLen, plan.decode.splits, window), nHeads / hpw, 1] : idle),
    },
    {
      label: `${label}.reduce`,
      pipeline: reduce,
      bindGroup: bindBuffers(ctx, reduce, `${label}.reduce`, { 0: a.step, 1: paramsBuf, 5: a.out, 6: scratch }),
      grid: (s) => (s.tokens === 1 && activeSplits(s.kvLen, plan.decode.splits, window) > 1 ? [nHeads, 1, 1] : idle),
    },
  ];
}

function checkShape(a: AttentionPlanInput): void {
  const { nHeads, nKvHeads, headDim, maxCtx } = a;
  check(
    [nHeads, nKvHeads, headDim, maxCtx].every((n) => Number.isInteger(n) && n >= 1),
    `attention: nHeads (${nHeads}), nKvHeads (${nKvHeads}), headDim (${headDim}) and maxCtx (${maxCtx}) must be positive integers.`,
  );
  check(nHeads % nKvHeads === 0, `attention: nHeads (${nHeads}) is not a multiple of nKvHeads (${nKvHeads}).`);
  if (headDim % 4 !== 0 || headDim > 256) {
    throw new HearthError('UNSUPPORTED_ARCHITECTURE', `Attention head size ${headDim} is not supported.`, {
      hint: 'Head sizes must be multiples of 4, up to 256.',
      details: { headDim },
    });
  }
}
