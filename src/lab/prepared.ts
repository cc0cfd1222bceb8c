import type { GpuContext } from '../gpu/device.js';
import type { Dispatch, StepParams } from '../gpu/dispatch.js';
import type { CheckResult } from './types.js';

/**
 * A case made ready on the GPU: its launches and step, its cost model, and a check that reads
 * the output back and compares a deterministic sample of it with the CPU reference.
 */
export interface PreparedCase {
  dispatches: Dispatch[];
  step: StepParams;
  /** Least bytes a launch must move (weights and activations read, outputs written). */
  bytes: number;
  flops: number;
  /** Call after exactly one run of the dispatches: in-place kernels change their input. */
  verify(): Promise<CheckResult>;
  destroy(): void;
}

/** Buffers a case owns, destroyed together when it is done. */
export class BufferSet {
  private buffers: GPUBuffer[] = [];
  add<T extends GPUBuffer>(b: T): T {
    this.buffers.push(b);
    return b;
  }
  destroy(): void {
    for (const b of this.buffers) b.destroy();
    this.buffers = [];
  }
}

export type Preparer<C> = (ctx: GpuContext, c: C, step: GPUBuffer) => PreparedCase;
