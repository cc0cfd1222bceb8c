import type { GpuContext } from '../gpu/device.js';
import { gridFor, type Dispatch, type StepParams } from '../gpu/dispatch.js';
import { GpuProfiler } from '../gpu/profiler.js';
import type { TimingSource } from './types.js';

/**
 * Time `iters` back-to-back runs of `dispatches` in ONE compute pass, bracketed by one pair of
 * timestamps (or, without 'timestamp-query', by the wall clock around one submit). One bracket
 * rather than one per launch: browsers quantize timestamps (Chrome to ~100 us without developer
 * flags), which would swamp a 10 us kernel timed alone but not a batch of hundreds; and a launch
 * that needs several passes (split-K decode + reduce, a weight split into parts) is timed whole.
 * The step uniform must already hold `step`. Returns ms per run.
 */
export async function timeDispatches(ctx: GpuContext, dispatches: readonly Dispatch[], step: StepParams, iters: number): Promise<{ ms: number; timing: TimingSource }> {
  const active = dispatches.map((d) => ({ d, grid: gridFor(d, step) })).filter(({ grid: [x, y, z] }) => x * y * z > 0);
  const encode = (timestampWrites?: GPUComputePassTimestampWrites): GPUCommandEncoder => {
    const enc = ctx.device.createCommandEncoder({ label: 'lab.timing' });
    const pass = enc.beginComputePass({ label: 'lab.timing', ...(timestampWrites ? { timestampWrites } : {}) });
    for (let i = 0; i < iters; i++) {
      for (const { d, grid } of active) {
        pass.setPipeline(d.pipeline);
        pass.setBindGroup(0, d.bindGroup);
        pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
      }
    }
    pass.end();
    return enc;
  };

  if (ctx.features.timestampQuery) {
    const profiler = new GpuProfiler(ctx, 1);
    try {
      const enc = encode(profiler.timestampWrites('lab'));
      profiler.resolve(enc);
      ctx.device.queue.submit([enc.finish()]);
      const [t] = await profiler.read();
      if (t && t.ms > 0) return { ms: t.ms / iters, timing: 'timestamp' };
    } finally {
      profiler.destroy();
    }
  }
  const enc = encode();
  const t0 = performance.now();
  ctx.device.queue.submit([enc.finish()]);
  await ctx.device.queue.onSubmittedWorkDone();
  return { ms: (performance.now() - t0) / iters, timing: 'wallclock' };
}
