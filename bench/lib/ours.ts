/**
 * Our kernels, prepared once and timed many times, on any GpuContext (Dawn in Node, navigator.gpu
 * in a page). Two clocks: wall time per run (`iters` submits back to back, one wait: what a
 * caller sees, and what ONNX Runtime is timed with), and GPU time from timestamp queries where
 * the adapter has them (what the kernels themselves cost).
 */
import { matmul, type MatmulVariant } from '../../src/kernels/matmul.js';
import { attention } from '../../src/kernels/attention.js';
import { kvAppend } from '../../src/kernels/kv_append.js';
import { measureRoofline, type Roofline, type RooflineOptions } from '../../src/kernels/roofline.js';
import { createStorage } from '../../src/gpu/buffers.js';
import { isCpuAdapter, type GpuContext } from '../../src/gpu/device.js';
import { StepUniform, encodeDispatches, type Dispatch, type StepParams } from '../../src/gpu/dispatch.js';
import { timeKernel } from '../../src/gpu/profiler.js';
import { destroyWeight, uploadWeight } from '../../src/gpu/weights.js';
import type { WeightFormat } from '../../src/quant/formats.js';
import { randomF32, randomNative } from './data.js';
import type { AttentionShape } from './shapes.js';

export interface TimedOp {
  /** Bytes the op has to read at least once (weights, or K and V): the numerator of GB/s. */
  bytes: number;
  /** Floating-point operations (a multiply-add counts 2). */
  flops: number;
  /** Wall milliseconds per run. */
  wall(iters: number): Promise<number>;
  /** GPU milliseconds per run from timestamps; null where the adapter has no timestamp-query. */
  gpu(iters: number): Promise<number | null>;
  destroy(): void;
}

/** Roofline options sized for the adapter: CPU drivers stream little and fast, GPUs need a lot in flight. */
export function rooflineOptions(ctx: GpuContext, quick: boolean): RooflineOptions {
  return isCpuAdapter(ctx)
    ? { readBytes: quick ? 32 << 20 : 64 << 20, iters: quick ? 2 : 3 }
    : { readBytes: 512 << 20, fmaThreads: 1 << 20, fmaIters: 2048, iters: 10 };
}

export function roofline(ctx: GpuContext, quick: boolean): Promise<Roofline> {
  return measureRoofline(ctx, rooflineOptions(ctx, quick));
}

/** Wall time of `iters` submits of `ds`, back to back, after the queue has drained. */
export async function wallTime(ctx: GpuContext, ds: readonly Dispatch[], step: StepParams, iters: number): Promise<number> {
  await ctx.device.queue.onSubmittedWorkDone();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) {
    const enc = ctx.device.createCommandEncoder();
    encodeDispatches(enc, ds, step);
    ctx.device.queue.submit([enc.finish()]);
  }
  await ctx.device.queue.onSubmittedWorkDone();
  return (performance.now() - t0) / iters;
}

function timedOp(ctx: GpuContext, uniform: StepUniform, ds: Dispatch[], step: StepParams, bytes: number, flops: number, free: () => void): TimedOp {
  return {
    bytes,
    flops,
    async wall(iters) {
      uniform.write(step);
      return wallTime(ctx, ds, step, iters);
    },
    async gpu(iters) {
      if (!ctx.features.timestampQuery) return null;
      uniform.write(step);
      const t = await timeKernel(ctx, (enc, profiler) => encodeDispatches(enc, ds, step, profiler), iters);
      return t.source === 'timestamp' ? t.ms : null;
    },
    destroy() {
      free();
      uniform.destroy();
    },
  };
}

export interface MatmulCase {
  n: number;
  k: number;
  format: WeightFormat;
  /** Rows of x: 1 runs the GEMV, more the GEMM. */
  tokens: number;
  variant?: MatmulVariant;
  /** The GEMV on int8-packed input rows (MatmulArgs.intDot), where the device and format have it. */
  intDot?: boolean;
}

/** y = x @ W^T for a random W [n, k] in `format`. */
export function prepareMatmul(ctx: GpuContext, c: MatmulCase): TimedOp & { weightBytes: number } {
  const { n, k, format, tokens } = c;
  const uniform = new StepUniform(ctx);
  const w = uploadWeight(ctx, format, n, k, randomNative(format, n, k, n * 31 + k), { label: `bench.${format}` });
  const x = createStorage(ctx, tokens * k * 4, 'bench.x');
  ctx.device.queue.writeBuffer(x, 0, randomF32(tokens * k, 7));
  const y = createStorage(ctx, tokens * n * 4, 'bench.y');
  const ds = matmul(ctx, { step: uniform.buffer, x, w, y, maxTokens: tokens, variant: c.variant, intDot: c.intDot }, 'matmul');
  const op = timedOp(ctx, uniform, ds, { tokens, pos: 0, kvLen: tokens }, w.bytes, 2 * tokens * n * k, () => {
    destroyWeight(w);
    x.destroy();
    y.destroy();
  });
  return { ...op, weightBytes: w.bytes };
}

export interface AttentionCase extends AttentionShape {
  mode: 'decode' | 'prefill';
  /** KV length after this step: decode attends 1 query over kvLen keys, prefill kvLen queries causally. */
  kvLen: number;
}

/** Causal attention flops: QK^T and PV, 2 flops per multiply-add each, over the keys each query sees. */
export function attentionFlops(c: AttentionCase): number {
  const pairs = c.mode === 'decode' ? c.kvLen : (c.kvLen * (c.kvLen + 1)) / 2;
  return 4 * c.heads * c.headDim * pairs;
}

/** Bytes of K and V (f32) the step reads. */
export const attentionBytes = (c: AttentionCase): number => 2 * c.kvHeads * c.kvLen * c.headDim * 4;

/**
 * The step's new K/V appended to the cache (kv_append, no RoPE) and attention over it: the same
 * work as ONNX Runtime's GroupQueryAttention, which takes the new K/V and the past and returns
 * the present.
 */
export function prepareAttention(ctx: GpuContext, c: AttentionCase): TimedOp {
  const tokens = c.mode === 'decode' ? 1 : c.kvLen;
  const maxCtx = c.kvLen;
  const uniform = new StepUniform(ctx);
  const qf = tokens * c.heads * c.headDim;
  const kvf = tokens * c.kvHeads * c.headDim;
  const q = createStorage(ctx, qf * 4, 'bench.q');
  const k = createStorage(ctx, kvf * 4, 'bench.k');
  const v = createStorage(ctx, kvf * 4, 'bench.v');
  const out = createStorage(ctx, qf * 4, 'bench.out');
  const kCache = createStorage(ctx, c.kvHeads * maxCtx * c.headDim * 4, 'bench.kcache');
  const vCache = createStorage(ctx, c.kvHeads * maxCtx * c.headDim * 4, 'bench.vcache');
  ctx.device.queue.writeBuffer(q, 0, randomF32(qf, 1));
  ctx.device.queue.writeBuffer(k, 0, randomF32(kvf, 2));
  ctx.device.queue.writeBuffer(v, 0, randomF32(kvf, 3));
  ctx.device.queue.writeBuffer(kCache, 0, randomF32(c.kvHeads * maxCtx * c.headDim, 4));
  ctx.device.queue.writeBuffer(vCache, 0, randomF32(c.kvHeads * maxCtx * c.headDim, 5));
  const ds: Dispatch[] = [
    kvAppend(ctx, { step: uniform.buffer, k, v, kCache, vCache, nKvHeads: c.kvHeads, headDim: c.headDim, maxCtx, maxTokens: tokens }, 'kv_append'),
    ...attention(ctx, { step: uniform.buffer, q, kCache, vCache, out, nHeads: c.heads, nKvHeads: c.kvHeads, headDim: c.headDim, maxCtx, maxTokens: tokens }, 'attention'),
  ];
  const step: StepParams = { tokens, pos: c.kvLen - tokens, kvLen: c.kvLen };
  return timedOp(ctx, uniform, ds, step, attentionBytes(c), attentionFlops(c), () => {
    for (const b of [q, k, v, out, kCache, vCache]) b.destroy();
  });
}
