import common from '../../shaders/common.wgsl?raw';
import ropeMath from '../../shaders/rope_math.wgsl?raw';
import reduceSum from '../../shaders/reduce_sum.wgsl?raw';
import source from '../../shaders/qk_norm_rope.wgsl?raw';
import { check } from '../errors.js';
import { rowReduceThreads, type GpuContext } from '../gpu/device.js';
import { uploadUniform, type BufferRange } from '../gpu/buffers.js';
import { bindBuffers, grid1d, type Dispatch } from '../gpu/dispatch.js';
import { checkRopeShape, type RopeStyle } from './rope.js';

const code = `${common}\n${ropeMath}\n${reduceSum}\n${source}`;

export interface QkNormRopeArgs {
  step: GPUBuffer;
  /** This step's q [maxTokens, nHeads, headDim] and k [maxTokens, nKvHeads, headDim], f32. */
  q: BufferRange;
  k: BufferRange;
  /** The per-head norm weights [headDim]. */
  qNorm: GPUBuffer;
  kNorm: GPUBuffer;
  /** Where q and k go, normed and rotated (same shapes as q and k). */
  qOut: BufferRange;
  kOut: BufferRange;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  eps: number;
  maxTokens: number;
  rope: { invFreq: GPUBuffer; rotaryDim: number; style: RopeStyle };
}

/**
 * q = rope(rmsnorm(q) * qNorm), k = rope(rmsnorm(k) * kNorm), per head, each token at position
 * step.pos + t (Qwen3, Gemma 3): one launch for what rmsnorm (twice) and rope do apart.
 */
export function qkNormRope(ctx: GpuContext, a: QkNormRopeArgs, label = 'qk_norm_rope'): Dispatch {
  checkRopeShape(a.headDim, a.rope.rotaryDim, a.rope.invFreq, label);
  const qBytes = a.maxTokens * a.nHeads * a.headDim * 4;
  const kBytes = a.maxTokens * a.nKvHeads * a.headDim * 4;
  check(a.q.size >= qBytes && a.qOut.size >= qBytes && a.k.size >= kBytes && a.kOut.size >= kBytes, `${label}: q, k and their outputs must hold maxTokens x heads x headDim floats.`);
  check(a.qNorm.size >= a.headDim * 4 && a.kNorm.size >= a.headDim * 4, `${label}: the norm weights must hold headDim (${a.headDim}) floats.`);
  const pipeline = ctx.pipelines.get(code, 'main', 'qk_norm_rope', { WG: rowReduceThreads(ctx), INTERLEAVED: a.rope.style === 'interleaved' ? 1 : 0 });
  const params = new ArrayBuffer(32);
  const dv = new DataView(params);
  [a.nHeads, a.nKvHeads, a.headDim, a.rope.rotaryDim / 2].forEach((v, i) => dv.setUint32(4 * i, v, true));
  dv.setFloat32(16, a.eps, true);
  const pbuf = uploadUniform(ctx, dv, `${label}.params`);
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, pipeline, label, { 0: a.step, 1: pbuf, 2: a.rope.invFreq, 3: a.q, 4: a.k, 5: a.qNorm, 6: a.kNorm, 7: a.qOut, 8: a.kOut }),
    owned: [pbuf],
    grid: (s) => {
      check(s.tokens <= a.maxTokens, `${label}: ${s.tokens} tokens in one step, prepared for at most ${a.maxTokens}.`);
      return grid1d(ctx, s.tokens * (a.nHeads + a.nKvHeads));
    },
  };
}
