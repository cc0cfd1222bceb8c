import common from '../../shaders/common.wgsl?raw';
import source from '../../shaders/gelu.wgsl?raw';
import { check } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { uploadUniform } from '../gpu/buffers.js';
import { bindBuffers, grid1d, type Dispatch } from '../gpu/dispatch.js';

const code = `${common}\n${source}`;

export interface GeluArgs {
  step: GPUBuffer;
  /** [maxTokens, n] f32, updated in place. */
  x: GPUBuffer;
  n: number;
  maxTokens: number;
}

/** x = gelu(x) (exact, erf-based) over the first step.tokens * n elements. */
export function gelu(ctx: GpuContext, a: GeluArgs, label = 'gelu'): Dispatch {
  check(a.x.size >= a.maxTokens * a.n * 4, `${label}: x must hold maxTokens x n floats.`);
  const pipeline = ctx.pipelines.get(code, 'main', 'gelu');
  const params = uploadUniform(ctx, new Uint32Array([a.n]), `${label}.params`);
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, pipeline, label, { 0: a.step, 1: params, 2: a.x }),
    owned: [params],
    grid: (s) => {
      check(s.tokens <= a.maxTokens, `${label}: ${s.tokens} tokens in one step, prepared for at most ${a.maxTokens}.`);
      return grid1d(ctx, Math.ceil((s.tokens * a.n) / 64));
    },
  };
}
