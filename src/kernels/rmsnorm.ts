import common from '../../shaders/common.wgsl?raw';
import reduceSum from '../../shaders/reduce_sum.wgsl?raw';
import source from '../../shaders/rmsnorm.wgsl?raw';
import { rowReduceThreads, type GpuContext } from '../gpu/device.js';
import { uploadUniform, type BufferRange } from '../gpu/buffers.js';
import { check } from '../errors.js';
import { bindBuffers, grid1d, type Dispatch } from '../gpu/dispatch.js';

const code = `${common}\n${reduceSum}\n${source}`;

export interface RmsNormArgs {
  step: GPUBuffer;
  /** Input rows [tokens * rowsPerToken, cols]; with `residual`, updated in place to x + residual. */
  x: BufferRange;
  /** Norm weight [cols], f32. */
  weight: GPUBuffer;
  /** The normed rows (not with mode 'post-add'). */
  out?: GPUBuffer;
  /** Added into x before normalizing (the fused residual add). */
  residual?: GPUBuffer;
  /**
   * 'post-add': normalize `residual` (a block's output) and add it into x, writing no `out`:
   * x += rmsnorm(residual) * weight (Gemma 3's post-norms). Default: out = rmsnorm(x [+= residual]).
   */
  mode?: 'norm' | 'post-add';
  cols: number;
  rowsPerToken?: number;
  eps: number;
  /** Scale by (1 + w) instead of w. */
  addOne?: boolean;
  /**
   * 'post-add' only: at one-token steps also write the new row times `weight` (the next norm's)
   * into `xg` and its sum of squares as the partial sums a normed decode GEMV reads
   * (MatmulFusion.norm.partials; normPartialsBytes(cols) bytes).
   */
  feed?: { weight: GPUBuffer; xg: GPUBuffer; partials: GPUBuffer };
}

/** RMSNorm (optionally fused with the residual add). Rows = step.tokens * rowsPerToken. */
export function rmsNorm(ctx: GpuContext, a: RmsNormArgs, label = 'rmsnorm'): Dispatch {
  const postAdd = a.mode === 'post-add';
  check(!postAdd || !!a.residual, `${label}: post-add needs the block output as residual.`);
  check(postAdd || !!a.out, `${label}: an output buffer is needed.`);
  check(!a.feed || (postAdd && (a.rowsPerToken ?? 1) === 1 && a.feed.weight.size >= a.cols * 4 && a.feed.xg.size >= a.cols * 4 && a.feed.partials.size >= Math.ceil(a.cols / 16) * 16), `${label}: feeding the next norm takes post-add over whole rows, a next-norm weight and xg of cols floats, and the partials.`);
  const pipeline = ctx.pipelines.get(code, a.feed ? 'main_post_add_feed' : postAdd ? 'main_post_add' : a.residual ? 'main_residual' : 'main', 'rmsnorm', { WG: rowReduceThreads(ctx) });
  const params = new ArrayBuffer(16);
  const dv = new DataView(params);
  const rowsPerToken = a.rowsPerToken ?? 1;
  dv.setUint32(0, a.cols, true);
  dv.setUint32(4, rowsPerToken, true);
  dv.setFloat32(8, a.eps, true);
  dv.setUint32(12, a.addOne ? 1 : 0, true);
  const pbuf = uploadUniform(ctx, dv, `${label}.params`);
  const buffers: Record<number, BufferRange> = { 0: a.step, 1: pbuf, 2: a.x, 3: a.weight };
  if (!postAdd) buffers[4] = a.out!;
  if (a.residual) buffers[5] = a.residual;
  if (a.feed) Object.assign(buffers, { 6: a.feed.weight, 7: a.feed.xg, 8: a.feed.partials });
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, pipeline, label, buffers),
    owned: [pbuf],
    grid: (s) => grid1d(ctx, s.tokens * rowsPerToken),
  };
}
