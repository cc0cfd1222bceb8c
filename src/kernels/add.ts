import common from '../../shaders/common.wgsl?raw';
import source from '../../shaders/add.wgsl?raw';
import { check } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { uploadUniform } from '../gpu/buffers.js';
import { bindBuffers, grid1d, type Dispatch } from '../gpu/dispatch.js';

const code = `${common}\n${source}`;

export interface AddArgs {
  step: GPUBuffer;
  /** [maxTokens, n] f32, updated in place. */
  a: GPUBuffer;
  b: GPUBuffer;
  n: number;
  maxTokens: number;
}

/** a[i] += b[i] for the first step.tokens * n elements. */
export function add(ctx: GpuContext, a: AddArgs, label = 'add'): Dispatch {
  const bytes = a.maxTokens * a.n * 4;
  check(a.a.size >= bytes && a.b.size >= bytes, `${label}: a and b must hold maxTokens x n floats.`);
  const pipeline = ctx.pipelines.get(code, 'main', 'add');
  const params = uploadUniform(ctx, new Uint32Array([a.n]), `${label}.params`);
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, pipeline, label, { 0: a.step, 1: params, 2: a.a, 3: a.b }),
    owned: [params],
    grid: (s) => {
      check(s.tokens <= a.maxTokens, `${label}: ${s.tokens} tokens in one step, prepared for at most ${a.maxTokens}.`);
      return grid1d(ctx, Math.ceil((s.tokens * a.n) / 64));
    },
  };
}
