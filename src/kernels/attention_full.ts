import common from '../../shaders/common.wgsl?raw';
import source from '../../shaders/attention_full.wgsl?raw';
import headsSource from '../../shaders/attention_heads.wgsl?raw';
import { check } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { createStorage, roundUp, uploadUniform } from '../gpu/buffers.js';
import { bindBuffers, grid1d, type Dispatch } from '../gpu/dispatch.js';
import type { GpuWeight } from '../gpu/weights.js';
import { matmul } from './matmul.js';
import { softmax } from './softmax.js';

export interface AttentionFullArgs {
  step: GPUBuffer;
  /** Queries: rows of qStride floats, heads x headDim of them from qOffset (floats) on. */
  q: GPUBuffer;
  /** Keys and values: kvLen rows of kvStride floats. May be one buffer (a fused K|V projection). */
  k: GPUBuffer;
  v: GPUBuffer;
  /** [maxTokens, heads * headDim] f32. */
  out: GPUBuffer;
  heads: number;
  headDim: number;
  kvLen: number;
  maxTokens: number;
  qStride?: number;
  kvStride?: number;
  qOffset?: number;
  kOffset?: number;
  vOffset?: number;
  /** Default 1 / sqrt(headDim). */
  scale?: number;
}

/**
 * Non-causal multi-head attention of the first step.tokens query rows over all kvLen keys: Whisper's
 * encoder self-attention and its decoder's cross-attention (K/V computed once per audio window).
 */
function checkFull(a: AttentionFullArgs, label: string): { d: number; qStride: number; kvStride: number; qOff: number; kOff: number; vOff: number } {
  const d = a.heads * a.headDim;
  const qStride = a.qStride ?? d;
  const kvStride = a.kvStride ?? d;
  const [qOff, kOff, vOff] = [a.qOffset ?? 0, a.kOffset ?? 0, a.vOffset ?? 0];
  check(Number.isInteger(a.headDim) && a.headDim % 4 === 0 && a.headDim > 0 && a.headDim <= 256, `${label}: head size must be a multiple of 4 up to 256, got ${a.headDim}.`);
  check([qStride, kvStride, qOff, kOff, vOff].every((x) => Number.isInteger(x) && x % 4 === 0), `${label}: strides and offsets must be multiples of 4 floats.`);
  check(qStride >= d && kvStride >= d && a.kvLen >= 1, `${label}: strides must cover heads x headDim and kvLen must be at least 1.`);
  check(a.q.size >= (qOff + (a.maxTokens - 1) * qStride + d) * 4, `${label}: q is too small for maxTokens rows.`);
  check(a.k.size >= (kOff + (a.kvLen - 1) * kvStride + d) * 4 && a.v.size >= (vOff + (a.kvLen - 1) * kvStride + d) * 4, `${label}: k or v is too small for kvLen rows.`);
  check(a.out.size >= a.maxTokens * d * 4, `${label}: out must hold maxTokens x heads x headDim floats.`);
  return { d, qStride, kvStride, qOff, kOff, vOff };
}

export function attentionFull(ctx: GpuContext, a: AttentionFullArgs, label = 'attention_full'): Dispatch {
  const { qStride, kvStride, qOff, kOff, vOff } = checkFull(a, label);
  const dv = a.headDim / 4;
  // threads per (query, head): at most 32, and their partial outputs within 12 KiB of workgroup memory
  const wg = Math.max(1, Math.min(32, Math.floor(768 / dv)));
  const code = `const DV: u32 = ${dv}u;\nconst WG: u32 = ${wg}u;\n${common}\n${source}`;
  const pipeline = ctx.pipelines.get(code, 'main', 'attention_full');
  const params = new DataView(new ArrayBuffer(32));
  [a.heads, a.kvLen, qStride, kvStride, qOff, kOff, vOff].forEach((x, i) => params.setUint32(4 * i, x, true));
  params.setFloat32(28, a.scale ?? 1 / Math.sqrt(a.headDim), true);
  const pbuf = uploadUniform(ctx, params, `${label}.params`);
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, pipeline, label, { 0: a.step, 1: pbuf, 2: a.q, 3: a.k, 4: a.v, 5: a.out }),
    owned: [pbuf],
    grid: (s) => {
      check(s.tokens <= a.maxTokens, `${label}: ${s.tokens} tokens in one step, prepared for at most ${a.maxTokens}.`);
      return [s.tokens, a.heads, 1];
    },
  };
}

const headsCode = `${common}\n${headsSource}`;

/**
 * The same attention as matmuls, one head after another: q and k of the head gathered into dense
 * blocks (q pre-scaled), v transposed, S = q k^T and O = S v on the matmul kernels, softmax between,
 * O merged back into its head's columns. Self-attention only: step.tokens must equal kvLen (the
 * encoder's every position). On CPU drivers the register-blocked matmul is several times faster
 * than the one-thread-per-query kernel; scratch: a [kvLen, kvLen] score matrix and three head blocks.
 */
/** Working buffers of attentionFullMatmul: layers run one after another, so one set can serve them all. */
export interface AttentionMatmulScratch {
  positions: number;
  headDim: number;
  qh: GPUBuffer;
  kh: GPUBuffer;
  vt: GPUBuffer;
  scores: GPUBuffer;
  oh: GPUBuffer;
}

export function attentionMatmulScratch(ctx: GpuContext, positions: number, headDim: number, label = 'attention_full'): AttentionMatmulScratch {
  const buf = (bytes: number, name: string): GPUBuffer => createStorage(ctx, bytes, `${label}.${name}`);
  return {
    positions,
    headDim,
    qh: buf(positions * headDim * 4, 'q_head'),
    kh: buf(positions * headDim * 4, 'k_head'),
    vt: buf(headDim * roundUp(positions, 4) * 4, 'v_head_t'),
    scores: buf(positions * positions * 4, 'scores'),
    oh: buf(positions * headDim * 4, 'o_head'),
  };
}

export function attentionFullMatmul(ctx: GpuContext, a: AttentionFullArgs & { scratch?: AttentionMatmulScratch }, label = 'attention_full'): Dispatch[] {
  const { qStride, kvStride, qOff, kOff, vOff } = checkFull(a, label);
  const T = a.kvLen;
  const hd = a.headDim;
  check(a.maxTokens === T, `${label}: the matmul form is self-attention over all positions: maxTokens (${a.maxTokens}) must equal kvLen (${T}).`);
  if (a.scratch) check(a.scratch.positions === T && a.scratch.headDim === hd, `${label}: the scratch was made for ${a.scratch.positions} positions of head size ${a.scratch.headDim}.`);
  const tStride = roundUp(T, 4);
  const scratch = a.scratch ?? attentionMatmulScratch(ctx, T, hd, label);
  const own: GPUBuffer[] = a.scratch ? [] : [scratch.qh, scratch.kh, scratch.vt, scratch.scores, scratch.oh];
  const { qh, kh, vt, scores, oh } = scratch;
  const weight = (data: GPUBuffer, rows: number, cols: number): GpuWeight => ({
    format: 'f32', rows, cols, strideWords: roundUp(cols, 4), parts: [{ rowStart: 0, rows, data, scales: null }], bytes: data.size, actQuant: null,
  });
  const scale = a.scale ?? 1 / Math.sqrt(hd);
  const move = (entry: 'split' | 'split_t' | 'merge', head: number, src: GPUBuffer, dst: GPUBuffer, stride: number, off: number, s: number): Dispatch => {
    const pipeline = ctx.pipelines.get(headsCode, entry, `attention_heads.${entry}`);
    const params = new DataView(new ArrayBuffer(28));
    [hd, head, a.heads, stride, off, tStride].forEach((x, i) => params.setUint32(4 * i, x, true));
    params.setFloat32(24, s, true);
    const pbuf = uploadUniform(ctx, params, `${label}.${entry}.params`);
    return {
      label: `${label}.${entry}[${head}]`,
      pipeline,
      bindGroup: bindBuffers(ctx, pipeline, `${label}.${entry}`, { 0: a.step, 1: pbuf, 2: src, 3: dst }),
      owned: [pbuf],
      grid: (st) => {
        check(st.tokens === T, `${label}: ${st.tokens} tokens; the matmul form runs over all ${T} positions.`);
        return grid1d(ctx, Math.ceil((T * hd) / 64));
      },
    };
  };
  const out: Dispatch[] = [];
  for (let h = 0; h < a.heads; h++) {
    out.push(move('split', h, a.q, qh, qStride, qOff, scale));
    out.push(move('split', h, a.k, kh, kvStride, kOff, 1));
    out.push(move('split_t', h, a.v, vt, kvStride, vOff, 1));
    out.push(...matmul(ctx, { step: a.step, x: qh, w: weight(kh, T, hd), y: scores, maxTokens: T }, `${label}.scores[${h}]`));
    out.push(softmax(ctx, { step: a.step, x: scores, cols: T, maxTokens: T }, `${label}.softmax[${h}]`));
    out.push(...matmul(ctx, { step: a.step, x: scores, w: weight(vt, hd, T), y: oh, maxTokens: T }, `${label}.pv[${h}]`));
    out.push(move('merge', h, oh, a.out, 0, 0, 1));
  }
  out[0]!.owned = [...(out[0]!.owned ?? []), ...own];
  return out;
}
