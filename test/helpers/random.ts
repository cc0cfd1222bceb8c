/** Seeded random data for kernel tests (mulberry32): the same seed, the same data, every run. */
import { mulberry32 } from '../../src/util/rng.js';

export function rng(seed: number): () => number {
  return mulberry32(seed);
}

/** n floats uniform in [-scale, scale). */
export function randomF32(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

export interface ErrorStats {
  maxAbs: number;
  maxRel: number;
  /** index of the worst element */
  at: number;
}

/** Largest absolute error and error relative to the largest reference magnitude. */
export function compare(got: ArrayLike<number>, want: ArrayLike<number>): ErrorStats {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  let maxAbs = 0;
  let at = -1;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i]! - want[i]!);
    if (!(e <= maxAbs)) {
      maxAbs = Number.isNaN(e) ? Infinity : e;
      at = i;
    }
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return { maxAbs, maxRel: maxAbs / (scale || 1), at };
}
