import { createNodeGpuContext } from '../../src/gpu/node.js';
import type { GpuContext } from '../../src/gpu/device.js';
import { StepUniform, runDispatches, type Dispatch, type StepParams } from '../../src/gpu/dispatch.js';

let ctxPromise: Promise<GpuContext> | null = null;

/** One Dawn device per test file (vitest runs each file in its own process). */
export function testGpu(): Promise<GpuContext> {
  ctxPromise ??= createNodeGpuContext();
  return ctxPromise;
}

let stepUniform: StepUniform | null = null;

/** The shared step uniform of the test device. */
export async function testStep(): Promise<StepUniform> {
  const ctx = await testGpu();
  stepUniform ??= new StepUniform(ctx);
  return stepUniform;
}

/** Write the step uniform, run the dispatches, wait. */
export async function run(dispatches: Dispatch | Dispatch[], step: Partial<StepParams> = {}): Promise<void> {
  const ctx = await testGpu();
  const s: StepParams = { tokens: 1, pos: 0, kvLen: 1, seed: 0, ...step };
  await runDispatches(ctx, Array.isArray(dispatches) ? dispatches : [dispatches], s, await testStep());
}
