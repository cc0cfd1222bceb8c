import common from '../../shaders/common.wgsl?raw';
import source from '../../shaders/softmax.wgsl?raw';
import { check } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { uploadUniform } from '../gpu/buffers.js';
import { bindBuffers, grid1d, type Dispatch } from '../gpu/dispatch.js';

const code = `${common}\n${source}`;

export interface SoftmaxArgs {
  step: GPUBuffer;
  /** [maxTokens * rowsPerToken, cols] f32; overwritten when `out` is not given. */
  x: GPUBuffer;
  out?: GPUBuffer;
  cols: number;
  rowsPerToken?: number;
  maxTokens: number;
}

/** Softmax of each row, rows = step.tokens * rowsPerToken. */
export function softmax(ctx: GpuContext, a: SoftmaxArgs, label = 'softmax'): Dispatch {
  const rowsPerToken = a.rowsPerToken ?? 1;
  const bytes = a.maxTokens * rowsPerToken * a.cols * 4;
  check(a.x.size >= bytes && (!a.out || a.out.size >= bytes), `${label}: x and out must hold maxTokens x rowsPerToken x cols floats.`);
  check(a.out !== a.x, `${label}: for an in-place softmax leave out unset.`);
  // long rows (vocabularies) spread over more invocations; short ones would leave most idle
  const wg = a.cols >= 4096 ? 256 : 64;
  const pipeline = ctx.pipelines.get(code, a.out ? 'main' : 'main_inplace', 'softmax', { WG: wg });
  const params = uploadUniform(ctx, new Uint32Array([a.cols, rowsPerToken]), `${label}.params`);
  const buffers: Record<number, GPUBuffer> = { 0: a.step, 1: params, 2: a.x };
  if (a.out) buffers[3] = a.out;
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, pipeline, label, buffers),
    owned: [params],
    grid: (s) => {
      check(s.tokens <= a.maxTokens, `${label}: ${s.tokens} tokens in one step, prepared for at most ${a.maxTokens}.`);
      return grid1d(ctx, s.tokens * rowsPerToken);
    },
  };
}
