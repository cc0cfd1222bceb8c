import { isCpuAdapter, type GpuContext } from '../gpu/device.js';
import { measureRoofline, type Roofline, type RooflineOptions } from '../kernels/roofline.js';
import type { LabRow } from './types.js';

/**
 * Roofline sizes per kind of adapter: a real GPU needs hundreds of MB and a million threads to
 * reach its peak; a CPU driver reaches its own with far less and would take minutes on those.
 */
export function rooflineOptions(ctx: GpuContext): RooflineOptions {
  return isCpuAdapter(ctx)
    ? { readBytes: 16 << 20, fmaThreads: 16384, fmaIters: 256, iters: 2 }
    : { readBytes: 256 << 20, fmaThreads: 1 << 20, fmaIters: 1024, iters: 10 };
}

/** The device's own roofline, sized for it. */
export function measureLabRoofline(ctx: GpuContext): Promise<Roofline> {
  return measureRoofline(ctx, rooflineOptions(ctx));
}

/** Flops per byte where the bandwidth line meets the compute ceiling. */
export const ridgePoint = (r: Roofline): number => r.fmaGflops / r.readGBps;

/** The most a kernel of this arithmetic intensity can reach on this roofline, GFLOP/s. */
export const attainableGflops = (r: Roofline, intensity: number): number => Math.min(r.fmaGflops, r.readGBps * intensity);

/** A row's GFLOP/s as a fraction of what its intensity allows (0 for failed rows). */
export const rooflineFraction = (r: Roofline, row: LabRow): number => (row.gflops > 0 && row.intensity > 0 ? row.gflops / attainableGflops(r, row.intensity) : 0);
