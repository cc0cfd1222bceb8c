import common from '../../shaders/common.wgsl?raw';
import source from '../../shaders/roofline.wgsl?raw';
import { check } from '../errors.js';
import { isCpuAdapter, type GpuContext } from '../gpu/device.js';
import { createStorage, uploadUniform } from '../gpu/buffers.js';
import { bindBuffers, encodeDispatches, type Dispatch, type StepParams } from '../gpu/dispatch.js';
import { timeKernel } from '../gpu/profiler.js';

const code = `${common}\n${source}`;
const WG = 256; // shaders/roofline.wgsl
const FLOPS_PER_TRIP = 64; // 8 vec4 multiply-adds
const MiB = 1024 * 1024;
const NO_STEP: StepParams = { tokens: 1, pos: 0, kvLen: 1 };

function params(ctx: GpuContext, n4: number, iters: number, label: string): GPUBuffer {
  const dv = new DataView(new ArrayBuffer(16));
  dv.setUint32(0, n4, true);
  dv.setUint32(4, iters, true);
  // a contraction toward 1: the chains stay finite for any number of trips
  dv.setFloat32(8, 0.999, true);
  dv.setFloat32(12, 0.001, true);
  return uploadUniform(ctx, dv, label);
}

/**
 * Workgroups the read benchmark uses for `n4` vec4s. Each thread reads at least 64 vec4s per
 * 4-byte partial it writes; with `spans` (CPU drivers), 1024, since there a thread's loop is
 * what streams and a short one is mostly overhead.
 */
export function readSumWorkgroups(n4: number, spans: boolean): number {
  return Math.max(1, Math.min(4096, Math.ceil(n4 / (WG * (spans ? 1024 : 64)))));
}

/** Threads of the read benchmark, each writing one partial sum. */
export const readSumThreads = (n4: number, spans: boolean): number => readSumWorkgroups(n4, spans) * WG;

/**
 * Sum the first `n4` vec4s of `src`, one partial sum per thread into out[0 .. readSumThreads(n4, spans)).
 * `spans`: each thread reads a contiguous span (the access pattern CPU drivers want) instead of
 * the grid striding over the buffer (what GPUs want); by default, by adapter.
 */
export function readSum(ctx: GpuContext, src: GPUBuffer, n4: number, out: GPUBuffer, label = 'roofline.read', spans = isCpuAdapter(ctx)): Dispatch {
  const wgs = readSumWorkgroups(n4, spans);
  check(src.size >= n4 * 16 && out.size >= wgs * WG * 4, `${label}: buffers too small for ${n4} vec4s.`);
  const pipeline = ctx.pipelines.get(code, 'read_sum', label, { WG, SPANS: spans ? 1 : 0 });
  const bindGroup = bindBuffers(ctx, pipeline, label, { 0: params(ctx, n4, 0, `${label}.params`), 1: src, 2: out });
  return { label, pipeline, bindGroup, grid: [wgs, 1, 1] };
}

/**
 * `threads` (a multiple of 256) each run `iters` trips of 8 vec4 multiply-adds (v = v * 0.999 + 0.001)
 * and write one float, the sum of their 32 lanes, to out[thread].
 */
export function fmaChains(ctx: GpuContext, threads: number, iters: number, out: GPUBuffer, label = 'roofline.fma'): Dispatch {
  check(threads > 0 && threads % WG === 0 && out.size >= threads * 4, `${label}: threads must be a positive multiple of ${WG} and fit in out.`);
  const wgs = threads / WG;
  const x = Math.min(wgs, ctx.limits.maxComputeWorkgroupsPerDimension);
  check(wgs % x === 0, `${label}: ${threads} threads do not split evenly into a 2-D grid.`);
  const pipeline = ctx.pipelines.get(code, 'fma_chains', label, { WG });
  const bindGroup = bindBuffers(ctx, pipeline, label, { 0: params(ctx, 0, iters, `${label}.params`), 2: out });
  return { label, pipeline, bindGroup, grid: [x, wgs / x, 1] };
}

export interface RooflineOptions {
  /** Bytes the read benchmark streams (default 64 MiB; real GPUs want 256 MiB or more). */
  readBytes?: number;
  /** Threads of the FMA benchmark, a multiple of 256 (default 16384; real GPUs want ~1M). */
  fmaThreads?: number;
  /** Trips of the FMA loop per thread (default 1024). */
  fmaIters?: number;
  /** Timed runs of each, after one warm-up (default 3). */
  iters?: number;
}

export interface Roofline {
  /** Streaming read bandwidth, GB/s (1e9 bytes). */
  readGBps: number;
  /** f32 multiply-add throughput, GFLOP/s (2 flops each). */
  fmaGflops: number;
  /** How the kernels were timed. */
  timing: 'timestamp' | 'wallclock';
}

async function timeDispatch(ctx: GpuContext, d: Dispatch, iters: number): Promise<{ ms: number; source: 'timestamp' | 'wallclock' }> {
  return timeKernel(ctx, (enc, profiler) => encodeDispatches(enc, [d], NO_STEP, profiler), iters);
}

/** Measure this adapter's roofline: streaming read bandwidth and FMA throughput. */
export async function measureRoofline(ctx: GpuContext, opts: RooflineOptions = {}): Promise<Roofline> {
  const readBytes = Math.min(opts.readBytes ?? 64 * MiB, ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
  const n4 = Math.floor(readBytes / 16);
  const threads = opts.fmaThreads ?? 16384;
  const fmaIters = opts.fmaIters ?? 1024;
  const iters = opts.iters ?? 3;
  check(n4 > 0, 'measureRoofline: readBytes must be at least 16.');

  // contents do not matter for bandwidth; zeros are what a fresh buffer holds
  const src = createStorage(ctx, n4 * 16, 'roofline.src');
  const spans = isCpuAdapter(ctx);
  const partials = createStorage(ctx, readSumThreads(n4, spans) * 4, 'roofline.partials');
  const out = createStorage(ctx, threads * 4, 'roofline.out');
  try {
    const read = await timeDispatch(ctx, readSum(ctx, src, n4, partials, 'roofline.read', spans), iters);
    const fma = await timeDispatch(ctx, fmaChains(ctx, threads, fmaIters, out), iters);
    return {
      readGBps: (n4 * 16) / (read.ms * 1e6),
      fmaGflops: (threads * fmaIters * FLOPS_PER_TRIP) / (fma.ms * 1e6),
      timing: read.source === 'timestamp' && fma.source === 'timestamp' ? 'timestamp' : 'wallclock',
    };
  } finally {
    src.destroy();
    partials.destroy();
    out.destroy();
  }
}
