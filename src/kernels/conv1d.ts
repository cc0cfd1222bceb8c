import common from '../../shaders/common.wgsl?raw';
import source from '../../shaders/conv1d_unfold.wgsl?raw';
import { check } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { uploadUniform } from '../gpu/buffers.js';
import { bindBuffers, grid1d, type Dispatch } from '../gpu/dispatch.js';
import type { GpuWeight } from '../gpu/weights.js';
import { matmul, type MatmulVariant } from './matmul.js';

const code = `${common}\n${source}`;

export interface Conv1dArgs {
  /** StepUniform whose tokens is the number of OUTPUT time steps. */
  step: GPUBuffer;
  /** Input, time-major [tIn, cIn] f32. */
  x: GPUBuffer;
  tIn: number;
  cIn: number;
  /** The conv weight [cOut, cIn, 3] as a matrix [cOut, cIn * 3], any matmul weight format. */
  w: GpuWeight;
  bias: GPUBuffer;
  stride: number;
  /** Scratch for the unfolded columns: at least maxTokens x cIn x 3 floats. */
  columns: GPUBuffer;
  /** Output [maxTokens, cOut] f32. */
  out: GPUBuffer;
  /** Largest output step count. */
  maxTokens: number;
  variant?: MatmulVariant;
}

/**
 * conv1d with kernel 3 and padding 1 (Whisper's two encoder convs): the input's columns are
 * unfolded (shaders/conv1d_unfold.wgsl), then multiplied by the weight with the matmul kernels,
 * bias added there. Returns the unfold and the matmul launches, in order.
 */
export function conv1d(ctx: GpuContext, a: Conv1dArgs, label = 'conv1d'): Dispatch[] {
  check(a.w.cols === a.cIn * 3, `${label}: the weight has ${a.w.cols} columns, not cIn x 3 = ${a.cIn * 3}.`);
  check(Number.isInteger(a.stride) && a.stride >= 1, `${label}: stride must be a positive integer, got ${a.stride}.`);
  check(a.x.size >= a.tIn * a.cIn * 4, `${label}: x must hold tIn x cIn floats.`);
  check(a.columns.size >= a.maxTokens * a.cIn * 3 * 4, `${label}: columns must hold maxTokens x cIn x 3 floats.`);
  const pipeline = ctx.pipelines.get(code, 'main', 'conv1d_unfold');
  const params = uploadUniform(ctx, new Uint32Array([a.cIn, a.tIn, a.stride]), `${label}.params`);
  const unfold: Dispatch = {
    label: `${label}.unfold`,
    pipeline,
    bindGroup: bindBuffers(ctx, pipeline, `${label}.unfold`, { 0: a.step, 1: params, 2: a.x, 3: a.columns }),
    owned: [params],
    grid: (s) => {
      check(s.tokens <= a.maxTokens, `${label}: ${s.tokens} output steps, prepared for at most ${a.maxTokens}.`);
      return grid1d(ctx, Math.ceil((s.tokens * a.cIn * 3) / 64));
    },
  };
  return [unfold, ...matmul(ctx, { step: a.step, x: a.columns, w: a.w, y: a.out, bias: a.bias, maxTokens: a.maxTokens, variant: a.variant }, `${label}.matmul`)];
}
