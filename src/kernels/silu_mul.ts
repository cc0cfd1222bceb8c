import common from '../../shaders/common.wgsl?raw';
import source from '../../shaders/silu_mul.wgsl?raw';
import { check } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { uploadUniform } from '../gpu/buffers.js';
import { bindBuffers, grid1d, type Dispatch } from '../gpu/dispatch.js';

const code = `${common}\n${source}`;

export interface SiluMulArgs {
  step: GPUBuffer;
  /** [maxTokens, n] f32 each. */
  gate: GPUBuffer;
  up: GPUBuffer;
  out: GPUBuffer;
  n: number;
  maxTokens: number;
}

/** out[m, i] = silu(gate[m, i]) * up[m, i] for m < step.tokens: the gated MLP's product. */
export function siluMul(ctx: GpuContext, a: SiluMulArgs, label = 'silu_mul'): Dispatch {
  const bytes = a.maxTokens * a.n * 4;
  check(a.gate.size >= bytes && a.up.size >= bytes && a.out.size >= bytes, `${label}: gate, up and out must hold maxTokens x n floats.`);
  const pipeline = ctx.pipelines.get(code, 'main', 'silu_mul');
  const params = uploadUniform(ctx, new Uint32Array([a.n]), `${label}.params`);
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, pipeline, label, { 0: a.step, 1: params, 2: a.gate, 3: a.up, 4: a.out }),
    owned: [params],
    grid: (s) => {
      check(s.tokens <= a.maxTokens, `${label}: ${s.tokens} tokens in one step, prepared for at most ${a.maxTokens}.`);
      return grid1d(ctx, Math.ceil((s.tokens * a.n) / 64));
    },
  };
}
