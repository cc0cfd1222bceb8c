import type { GpuContext } from './device.js';

const QUERY_RESOLVE = 0x200; // GPUBufferUsage.QUERY_RESOLVE
const COPY_SRC = 0x04;
const COPY_DST = 0x08;
const MAP_READ = 0x01;
const MAX_PASSES = 2048;

export interface KernelTiming {
  label: string;
  /** GPU time in milliseconds, summed over every pass with this label. */
  ms: number;
  count: number;
}

/**
 * Per-kernel GPU time from timestamp queries. Each profiled dispatch runs in its own compute
 * pass with a begin/end timestamp pair; resolve() reads them back and sums by label.
 * Disabled (and free) where the adapter lacks 'timestamp-query'.
 */
export class GpuProfiler {
  readonly enabled: boolean;
  private querySet: GPUQuerySet | null = null;
  private resolveBuf: GPUBuffer | null = null;
  private readBuf: GPUBuffer | null = null;
  private labels: string[] = [];

  /** Passes it can time: a query set holds at most 4096 timestamps, two per pass. */
  readonly capacity: number;

  constructor(private ctx: GpuContext, capacity = MAX_PASSES) {
    this.capacity = Math.min(capacity, MAX_PASSES);
    this.enabled = ctx.features.timestampQuery;
    if (this.enabled) {
      this.querySet = ctx.device.createQuerySet({ type: 'timestamp', count: this.capacity * 2, label: 'profiler' });
      this.resolveBuf = ctx.device.createBuffer({ size: this.capacity * 16, usage: QUERY_RESOLVE | COPY_SRC, label: 'profiler-resolve' });
      this.readBuf = ctx.device.createBuffer({ size: this.capacity * 16, usage: MAP_READ | COPY_DST, label: 'profiler-read' });
    }
  }

  timestampWrites(label: string): GPUComputePassTimestampWrites | undefined {
    if (!this.querySet || this.labels.length >= this.capacity) return undefined;
    const i = this.labels.length;
    this.labels.push(label);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Record the resolve of all timestamps so far into `enc`; call before submitting it. */
  resolve(enc: GPUCommandEncoder): void {
    if (!this.querySet || !this.labels.length) return;
    const n = this.labels.length * 2;
    enc.resolveQuerySet(this.querySet, 0, n, this.resolveBuf!, 0);
    enc.copyBufferToBuffer(this.resolveBuf!, 0, this.readBuf!, 0, n * 8);
  }

  /** After the submit that holds resolve(): per-label GPU times, then reset for the next run. */
  async read(): Promise<KernelTiming[]> {
    if (!this.readBuf || !this.labels.length) return [];
    await this.readBuf.mapAsync(1);
    const ts = new BigUint64Array(this.readBuf.getMappedRange().slice(0, this.labels.length * 16));
    this.readBuf.unmap();
    const byLabel = new Map<string, KernelTiming>();
    this.labels.forEach((label, i) => {
      const ns = Number(ts[2 * i + 1]! - ts[2 * i]!);
      const t = byLabel.get(label) ?? { label, ms: 0, count: 0 };
      t.ms += Math.max(0, ns) / 1e6;
      t.count += 1;
      byLabel.set(label, t);
    });
    this.labels = [];
    return [...byLabel.values()];
  }

  destroy(): void {
    this.querySet?.destroy();
    this.resolveBuf?.destroy();
    this.readBuf?.destroy();
  }
}

/** Time `run` on the GPU (timestamps) or, failing that, by wall clock over `iters` runs. Returns ms per run. */
export async function timeKernel(
  ctx: GpuContext,
  encode: (enc: GPUCommandEncoder, profiler?: GpuProfiler) => void,
  iters: number,
): Promise<{ ms: number; source: 'timestamp' | 'wallclock' }> {
  // warm up, counting the passes one run records so every pass of every run gets a timestamp pair
  const counter = ctx.features.timestampQuery ? new GpuProfiler(ctx) : undefined;
  let enc = ctx.device.createCommandEncoder();
  encode(enc, counter);
  counter?.resolve(enc);
  ctx.device.queue.submit([enc.finish()]);
  await ctx.device.queue.onSubmittedWorkDone();
  const passes = Math.max(1, (await counter?.read())?.reduce((s, t) => s + t.count, 0) ?? 1);
  counter?.destroy();
  if (ctx.features.timestampQuery && passes <= MAX_PASSES) {
    iters = Math.max(1, Math.min(iters, Math.floor(MAX_PASSES / passes)));
    const prof = new GpuProfiler(ctx, iters * passes);
    enc = ctx.device.createCommandEncoder();
    for (let i = 0; i < iters; i++) encode(enc, prof);
    prof.resolve(enc);
    ctx.device.queue.submit([enc.finish()]);
    const timings = await prof.read();
    prof.destroy();
    const total = timings.reduce((s, t) => s + t.ms, 0);
    if (total > 0) return { ms: total / iters, source: 'timestamp' };
  }
  const t0 = performance.now();
  enc = ctx.device.createCommandEncoder();
  for (let i = 0; i < iters; i++) encode(enc);
  ctx.device.queue.submit([enc.finish()]);
  await ctx.device.queue.onSubmittedWorkDone();
  return { ms: (performance.now() - t0) / iters, source: 'wallclock' };
}
