import type { GpuContext } from './device.js';
import { createUniform } from './buffers.js';
import type { GpuProfiler } from './profiler.js';

/**
 * Per-submit values that change between prefill chunks and decode steps. One small uniform
 * buffer holds them, written once per submit and bound to every kernel that needs them, so
 * bind groups can be built once at load and reused for every token.
 *
 * WGSL side (shaders/common.wgsl): struct Step { tokens: u32, pos: u32, kv_len: u32, seed: u32 }
 */
export interface StepParams {
  /** Number of tokens in this submit (M of the GEMMs); 1 in decode. */
  tokens: number;
  /** Position of the first of those tokens in the sequence. */
  pos: number;
  /** KV length after this submit's tokens are appended (pos + tokens). */
  kvLen: number;
  /** Random seed for the sampler's draw in this step. */
  seed?: number;
}

export const STEP_BYTES = 16;

export class StepUniform {
  readonly buffer: GPUBuffer;
  private data = new Uint32Array(STEP_BYTES / 4);
  constructor(private ctx: GpuContext) {
    this.buffer = createUniform(ctx, STEP_BYTES, 'step');
  }
  write(step: StepParams): void {
    this.data[0] = step.tokens;
    this.data[1] = step.pos;
    this.data[2] = step.kvLen;
    this.data[3] = (step.seed ?? 0) >>> 0;
    this.ctx.device.queue.writeBuffer(this.buffer, 0, this.data);
  }
  destroy(): void {
    this.buffer.destroy();
  }
}

export type Grid = [number, number, number];

/** One prepared kernel launch: pipeline and bind group built once, the grid worked out per step. */
export interface Dispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  grid: Grid | ((step: StepParams) => Grid);
  /** Buffers this dispatch created for itself (its parameters, its scratch), freed with it. */
  owned?: GPUBuffer[];
}

/** Frees the buffers the dispatches created for themselves; the ones they were given stay. */
export function destroyDispatches(dispatches: readonly Dispatch[]): void {
  for (const d of dispatches) for (const b of d.owned ?? []) b.destroy();
}

export function gridFor(d: Dispatch, step: StepParams): Grid {
  return typeof d.grid === 'function' ? d.grid(step) : d.grid;
}

/**
 * Record dispatches in order. Without a profiler they share one compute pass (cheapest);
 * with one, each gets its own pass with timestamp writes so its GPU time can be read.
 */
export function encodeDispatches(enc: GPUCommandEncoder, dispatches: readonly Dispatch[], step: StepParams, profiler?: GpuProfiler): void {
  if (profiler?.enabled) {
    for (const d of dispatches) {
      const [x, y, z] = gridFor(d, step);
      if (x * y * z === 0) continue;
      const pass = enc.beginComputePass({ label: d.label, timestampWrites: profiler.timestampWrites(d.label) });
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(x, y, z);
      pass.end();
    }
    return;
  }
  const pass = enc.beginComputePass();
  for (const d of dispatches) {
    const [x, y, z] = gridFor(d, step);
    if (x * y * z === 0) continue;
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(x, y, z);
  }
  pass.end();
}

/** Build a bind group for `pipeline` from buffers listed by binding index (layout 'auto'). */
export function bindBuffers(ctx: GpuContext, pipeline: GPUComputePipeline, label: string, buffers: Record<number, GPUBuffer | GPUBufferBinding>): GPUBindGroup {
  return ctx.device.createBindGroup({
    label,
    layout: pipeline.getBindGroupLayout(0),
    entries: Object.entries(buffers).map(([binding, b]) => ({
      binding: Number(binding),
      resource: 'buffer' in b ? b : { buffer: b },
    })),
  });
}

/** Record, submit and wait for a list of dispatches: for tests, the kernel lab and one-off work. */
export async function runDispatches(ctx: GpuContext, dispatches: readonly Dispatch[], step: StepParams, stepUniform?: StepUniform): Promise<void> {
  stepUniform?.write(step);
  const enc = ctx.device.createCommandEncoder();
  encodeDispatches(enc, dispatches, step);
  ctx.device.queue.submit([enc.finish()]);
  await ctx.device.queue.onSubmittedWorkDone();
}

/** Split a 1-D workgroup count over x and y when it exceeds maxComputeWorkgroupsPerDimension. */
export function grid1d(ctx: GpuContext, workgroups: number): Grid {
  // 65535 is the guaranteed minimum of maxComputeWorkgroupsPerDimension; shaders rebuild the index as x + y * 65535
  void ctx;
  const max = 65535;
  if (workgroups <= max) return [workgroups, 1, 1];
  return [max, Math.ceil(workgroups / max), 1];
}
