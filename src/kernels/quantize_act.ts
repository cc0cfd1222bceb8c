import common from '../../shaders/common.wgsl?raw';
import source from '../../shaders/quantize_act.wgsl?raw';
import int8x4 from '../../shaders/int8x4.wgsl?raw';
import { HearthError, check } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { uploadUniform } from '../gpu/buffers.js';
import { bindBuffers, grid1d, type Dispatch } from '../gpu/dispatch.js';
import { ACT_BLOCK, type ActQuant } from '../quant/formats.js';

const code = `${common}\n${int8x4}\n${source}`;

export interface QuantizeActArgs {
  step: GPUBuffer;
  /** Rows [maxTokens, cols] f32; rows = step.tokens. */
  x: GPUBuffer;
  /** Where the quantized rows go, [maxTokens, cols] f32 (a buffer other than x). */
  out: GPUBuffer;
  cols: number;
  maxTokens: number;
  kind: ActQuant;
  /** q8_0 only: round q toward zero, as ggml's wasm SIMD build does. */
  trunc?: boolean;
}

/**
 * out = x with each block of each row replaced by its 8-bit quantization q * d (llama.cpp's
 * activation quantization before a dot product with quantized weights; reference/act-quant.ts).
 */
export function quantizeAct(ctx: GpuContext, a: QuantizeActArgs, label = 'quantize_act'): Dispatch {
  const B = ACT_BLOCK[a.kind];
  if (!(Number.isInteger(a.cols) && a.cols > 0 && a.cols % B === 0)) {
    throw new HearthError('UNSUPPORTED_TENSOR_TYPE', `${label}: ${a.kind} activations need rows of a multiple of ${B} values, got ${a.cols}.`, {
      hint: "Load the model with activations: 'f32' to keep activations unquantized.",
    });
  }
  check(a.x !== a.out, `${label}: out must be a buffer other than x.`);
  const bytes = a.maxTokens * a.cols * 4;
  check(a.x.size >= bytes && a.out.size >= bytes, `${label}: x and out must hold maxTokens (${a.maxTokens}) x ${a.cols} floats.`);
  const blocks = a.cols / B;
  const pipeline = ctx.pipelines.get(code, 'main', `quantize_act.${a.kind}`, { BLOCK: B, KIND: a.kind === 'q8_0' ? 0 : 1, TRUNC: a.trunc ? 1 : 0 });
  const params = uploadUniform(ctx, new Uint32Array([a.cols, blocks]), `${label}.params`);
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, pipeline, label, { 0: a.step, 1: params, 2: a.x, 3: a.out }),
    owned: [params],
    grid: (s) => {
      check(s.tokens <= a.maxTokens, `${label}: ${s.tokens} tokens in one step, prepared for at most ${a.maxTokens}.`);
      return grid1d(ctx, Math.ceil((s.tokens * blocks) / 64));
    },
  };
}

export interface PackActArgs {
  step: GPUBuffer;
  /** Rows [maxTokens, cols] f32; the packed row is step.tokens - 1 (the GEMV's). */
  x: GPUBuffer;
  /** cols / 4 u32: the row as int8, four per word. */
  xq: GPUBuffer;
  /** cols / 32 vec2f: per block of 32, (d, d * sum(q)). */
  xd: GPUBuffer;
  cols: number;
  maxTokens: number;
}

/** Bytes of PackActArgs' xq and xd for rows of `cols`. */
export function packedActBytes(cols: number): { xq: number; xd: number } {
  return { xq: cols, xd: (cols / 32) * 8 };
}

/**
 * The GEMV's input row as packed int8 blocks of 32 (shaders/quantize_act.wgsl pack_q8), for the
 * integer dot products of kernels/matmul.ts (MatmulArgs.intDot).
 */
export function packAct(ctx: GpuContext, a: PackActArgs, label = 'pack_act'): Dispatch {
  if (!(Number.isInteger(a.cols) && a.cols > 0 && a.cols % 32 === 0)) {
    throw new HearthError('UNSUPPORTED_TENSOR_TYPE', `${label}: packed 8-bit activations need rows of a multiple of 32 values, got ${a.cols}.`, {
      hint: 'Use the f32 activation path (intDot off) for this matrix.',
    });
  }
  const need = packedActBytes(a.cols);
  check(a.x.size >= a.maxTokens * a.cols * 4 && a.xq.size >= need.xq && a.xd.size >= need.xd, `${label}: x must hold maxTokens x ${a.cols} floats, xq ${need.xq} bytes, xd ${need.xd}.`);
  const blocks = a.cols / 32;
  const pipeline = ctx.pipelines.get(code, 'pack_q8', 'quantize_act.pack_q8');
  const params = uploadUniform(ctx, new Uint32Array([a.cols, blocks]), `${label}.params`);
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, pipeline, label, { 0: a.step, 1: params, 2: a.x, 4: a.xq, 5: a.xd }),
    owned: [params],
    grid: (s) => {
      check(s.tokens >= 1 && s.tokens <= a.maxTokens, `${label}: ${s.tokens} tokens in one step, prepared for 1 to ${a.maxTokens}.`);
      return grid1d(ctx, Math.ceil(blocks / 64));
    },
  };
}
