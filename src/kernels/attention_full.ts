import common from '../../shaders/common.wgsl?raw';
import source from '../../shaders/attention_full.wgsl?raw';
import { check } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { uploadUniform } from '../gpu/buffers.js';
import { bindBuffers, type Dispatch } from '../gpu/dispatch.js';

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
export function attentionFull(ctx: GpuContext, a: AttentionFullArgs, label = 'attention_full'): Dispatch {
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
  const code = `const DV: u32 = ${a.headDim / 4}u;\n${common}\n${source}`;
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
      return [Math.ceil(s.tokens / 64), a.heads, 1];
    },
  };
}
