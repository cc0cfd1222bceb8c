import common from '../../shaders/common.wgsl?raw';
import source from '../../shaders/silu_mul.wgsl?raw';
import { check } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { uploadUniform } from '../gpu/buffers.js';
import { bindBuffers, grid1d, type Dispatch } from '../gpu/dispatch.js';

const code = `${common}\n${source}`;

export interface SiluMulArgs {
  step: GPUBuffer;
  /** [maxTokens, n] f32 each; or, with `fused`, one [maxTokens, 2n] buffer of gate|up rows passed as both. */
  gate: GPUBuffer;
  up: GPUBuffer;
  out: GPUBuffer;
  n: number;
  maxTokens: number;
  /** gate and up come from one matmul over the concatenated weights: each row is gate then up. */
  fused?: boolean;
}

/** out[m, i] = silu(gate[m, i]) * up[m, i] for m < step.tokens: the gated MLP's product. */
export function siluMul(ctx: GpuContext, a: SiluMulArgs, label = 'silu_mul'): Dispatch {
  const bytes = a.maxTokens * a.n * 4;
  const inBytes = a.fused ? 2 * bytes : bytes;
  check(a.gate.size >= inBytes && a.up.size >= inBytes && a.out.size >= bytes, `${label}: gate and up must hold maxTokens x ${a.fused ? '2n' : 'n'} floats, out maxTokens x n.`);
  const pipeline = ctx.pipelines.get(code, 'main', 'silu_mul');
  const params = uploadUniform(ctx, new Uint32Array(a.fused ? [a.n, 2 * a.n, a.n] : [a.n, a.n, 0]), `${label}.params`);
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
