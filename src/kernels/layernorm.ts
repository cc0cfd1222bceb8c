import common from '../../shaders/common.wgsl?raw';
import reduceSum from '../../shaders/reduce_sum.wgsl?raw';
import source from '../../shaders/layernorm.wgsl?raw';
import { check } from '../errors.js';
import { rowReduceThreads, type GpuContext } from '../gpu/device.js';
import { uploadUniform } from '../gpu/buffers.js';
import { bindBuffers, grid1d, type Dispatch } from '../gpu/dispatch.js';

const code = `${common}\n${reduceSum}\n${source}`;

export interface LayerNormArgs {
  step: GPUBuffer;
  /** [maxTokens, cols] f32. */
  x: GPUBuffer;
  /** Scale and shift [cols] f32. */
  weight: GPUBuffer;
  bias: GPUBuffer;
  /** [maxTokens, cols] f32; may not be x. */
  out: GPUBuffer;
  cols: number;
  maxTokens: number;
  eps: number;
}

/** LayerNorm of each of the first step.tokens rows (Whisper's pre-norms and final norms). */
export function layerNorm(ctx: GpuContext, a: LayerNormArgs, label = 'layernorm'): Dispatch {
  const bytes = a.maxTokens * a.cols * 4;
  check(a.x.size >= bytes && a.out.size >= bytes, `${label}: x and out must hold maxTokens x cols floats.`);
  check(a.weight.size >= a.cols * 4 && a.bias.size >= a.cols * 4, `${label}: weight and bias must hold cols floats.`);
  check(a.x !== a.out, `${label}: out must be another buffer than x.`);
  const pipeline = ctx.pipelines.get(code, 'main', 'layernorm', { WG: rowReduceThreads(ctx) });
  const params = new DataView(new ArrayBuffer(8));
  params.setUint32(0, a.cols, true);
  params.setFloat32(4, a.eps, true);
  const pbuf = uploadUniform(ctx, params, `${label}.params`);
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, pipeline, label, { 0: a.step, 1: pbuf, 2: a.x, 3: a.weight, 4: a.bias, 5: a.out }),
    owned: [pbuf],
    grid: (s) => {
      check(s.tokens <= a.maxTokens, `${label}: ${s.tokens} tokens in one step, prepared for at most ${a.maxTokens}.`);
      return grid1d(ctx, s.tokens);
    },
  };
}
