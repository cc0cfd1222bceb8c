import common from '../../shaders/common.wgsl?raw';
import ropeMath from '../../shaders/rope_math.wgsl?raw';
import source from '../../shaders/rope.wgsl?raw';
import { check } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { uploadUniform, type BufferRange } from '../gpu/buffers.js';
import { bindBuffers, grid1d, type Dispatch } from '../gpu/dispatch.js';

export { ropeInvFreq, type RopeScaling } from './rope-freq.js';

const code = `${common}\n${ropeMath}\n${source}`;

/** Which elements of a head form a rotary pair: Hugging Face rotate-half, or adjacent (GGUF). */
export type RopeStyle = 'half' | 'interleaved';

export interface RopeArgs {
  step: GPUBuffer;
  /** [maxTokens, nHeads, headDim] f32, rotated in place; token t is at position step.pos + t. */
  x: BufferRange;
  nHeads: number;
  headDim: number;
  /** Leading dims of each head that are rotated (headDim, or less for partial rotary). */
  rotaryDim: number;
  /** [rotaryDim / 2] f32 inverse frequencies, from ropeInvFreq(). */
  invFreq: GPUBuffer;
  style: RopeStyle;
  maxTokens: number;
}

/** The rope.wgsl Params uniform; kv_append.ts shares the shader and so the layout. */
export function ropeParams(ctx: GpuContext, heads: number, headDim: number, rotaryDim: number, maxCtx: number, label: string): GPUBuffer {
  return uploadUniform(ctx, new Uint32Array([heads, headDim, rotaryDim / 2, maxCtx]), `${label}.params`);
}

export function checkRopeShape(headDim: number, rotaryDim: number, invFreq: GPUBuffer, label: string): void {
  check(Number.isInteger(headDim) && headDim > 0 && headDim % 2 === 0, `${label}: head dimension must be a positive even integer, got ${headDim}.`);
  check(
    Number.isInteger(rotaryDim) && rotaryDim > 0 && rotaryDim % 2 === 0 && rotaryDim <= headDim,
    `${label}: rotary dimension ${rotaryDim} must be even and within the head dimension ${headDim}.`,
  );
  check(invFreq.size >= (rotaryDim / 2) * 4, `${label}: the inverse-frequency table holds ${invFreq.size / 4} floats, needs ${rotaryDim / 2}.`);
}

/** RoPE in place on x [tokens, nHeads, headDim]. */
export function rope(ctx: GpuContext, a: RopeArgs, label = 'rope'): Dispatch {
  checkRopeShape(a.headDim, a.rotaryDim, a.invFreq, label);
  check(a.x.size >= a.maxTokens * a.nHeads * a.headDim * 4, `${label}: x is smaller than maxTokens x nHeads x headDim floats.`);
  const pipeline = ctx.pipelines.get(code, 'rope_main', 'rope', { INTERLEAVED: a.style === 'interleaved' ? 1 : 0 });
  const params = ropeParams(ctx, a.nHeads, a.headDim, a.rotaryDim, 0, label);
  const pairsPerToken = a.nHeads * (a.rotaryDim / 2);
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, pipeline, label, { 0: a.step, 1: params, 2: a.invFreq, 3: a.x }),
    owned: [params],
    grid: (s) => {
      check(s.tokens <= a.maxTokens, `${label}: ${s.tokens} tokens in one step, prepared for at most ${a.maxTokens}.`);
      return grid1d(ctx, Math.ceil((s.tokens * pairsPerToken) / 64));
    },
  };
}
