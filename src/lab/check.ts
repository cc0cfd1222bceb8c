import type { CheckResult, LabFamily } from './types.js';

/**
 * Allowed error relative to the largest |reference| in the sample. The references accumulate in
 * f64 from the same (dequantized) inputs, so what is left is f32 rounding and summation order:
 * ~1e-7 per add, growing with the reduction length; K = 8192 or a 4096-key softmax stays well
 * under 1e-4. Gathers are exact; RoPE is checked against the same f32 angle the kernel uses.
 */
export const TOLERANCE: Record<LabFamily, number> = {
  gemv: 1e-4,
  gemm: 1e-4,
  'attention-prefill': 1e-4,
  'attention-decode': 1e-4,
  rmsnorm: 1e-5,
  rope: 1e-5,
  silu_mul: 1e-5,
  softmax: 1e-5,
  embed: 1e-6,
  // LayerNorm's variance of an offset row loses a few more bits than RMSNorm's mean square
  layernorm: 1e-4,
  gelu: 1e-5,
  conv1d: 1e-4,
  add_rows: 1e-6,
  attention_full: 1e-4,
};

/** Accumulates |gpu - reference| over the sampled outputs of one case. */
export class ErrorTally {
  private maxAbs = 0;
  private scale = 0;
  private count = 0;

  constructor(
    private readonly tolerance: number,
    private readonly total: number,
  ) {}

  /** got[i] against want[i] for every i. */
  add(got: ArrayLike<number>, want: ArrayLike<number>): void {
    for (let i = 0; i < want.length; i++) {
      const e = Math.abs(got[i]! - want[i]!);
      // NaN compares false: count it as the worst error
      if (!(e <= this.maxAbs)) this.maxAbs = Number.isNaN(e) ? Infinity : e;
      this.scale = Math.max(this.scale, Math.abs(want[i]!));
    }
    this.count += want.length;
  }

  result(): CheckResult {
    const maxRelErr = this.maxAbs / (this.scale || 1);
    return {
      maxAbsErr: this.maxAbs,
      maxRelErr,
      tolerance: this.tolerance,
      checked: this.count,
      total: this.total,
      pass: this.count > 0 && maxRelErr <= this.tolerance,
    };
  }
}
