import type { MatmulVariant } from '../kernels/matmul.js';
import type { RopeStyle } from '../kernels/rope.js';
import type { WeightFormat } from '../quant/formats.js';

/**
 * One kernel launch the lab can prepare, check against the CPU reference and time.
 * `label` names where the shape comes from (e.g. "SmolLM2-135M gate/up").
 */
export type LabCase =
  | { family: 'gemv'; label: string; format: WeightFormat; variant: MatmulVariant; n: number; k: number }
  | { family: 'gemm'; label: string; format: WeightFormat; variant: MatmulVariant; m: number; n: number; k: number }
  | { family: 'attention-prefill'; label: string; nHeads: number; nKvHeads: number; headDim: number; tokens: number; pos: number }
  | { family: 'attention-decode'; label: string; nHeads: number; nKvHeads: number; headDim: number; kvLen: number }
  | { family: 'rmsnorm'; label: string; rows: number; cols: number; residual: boolean }
  | { family: 'rope'; label: string; tokens: number; nHeads: number; headDim: number; pos: number; theta: number; style: RopeStyle }
  | { family: 'silu_mul'; label: string; tokens: number; n: number }
  | { family: 'softmax'; label: string; rows: number; cols: number }
  | { family: 'embed'; label: string; format: WeightFormat; vocab: number; cols: number; tokens: number }
  // Whisper's kernels
  | { family: 'layernorm'; label: string; rows: number; cols: number }
  | { family: 'gelu'; label: string; tokens: number; n: number }
  | { family: 'conv1d'; label: string; variant: MatmulVariant; tIn: number; cIn: number; cOut: number; stride: number }
  | { family: 'add_rows'; label: string; tokens: number; n: number; rows: number; pos: number }
  /** method: one thread per query ('direct') or per-head matmuls ('matmul', self-attention: tokens = kvLen). */
  | { family: 'attention_full'; label: string; method: 'direct' | 'matmul'; heads: number; headDim: number; tokens: number; kvLen: number };

export type LabFamily = LabCase['family'];

export const LAB_FAMILIES: readonly LabFamily[] = [
  'gemv',
  'gemm',
  'attention-prefill',
  'attention-decode',
  'rmsnorm',
  'rope',
  'silu_mul',
  'softmax',
  'embed',
  'layernorm',
  'gelu',
  'conv1d',
  'add_rows',
  'attention_full',
];

/** The families only Whisper uses (the speech model's encoder and decoder). */
export const WHISPER_FAMILIES: readonly LabFamily[] = ['layernorm', 'gelu', 'conv1d', 'add_rows', 'attention_full'];

export type TimingSource = 'timestamp' | 'wallclock';

/** How the GPU output compared with the reference on the checked sample. */
export interface CheckResult {
  /** Largest |gpu - reference| over the checked values (Infinity for NaN). */
  maxAbsErr: number;
  /** maxAbsErr relative to the largest |reference| in the sample. */
  maxRelErr: number;
  /** The relative error allowed for this family. */
  tolerance: number;
  /** Outputs compared, and outputs the kernel wrote. */
  checked: number;
  total: number;
  pass: boolean;
}

/** One result line: a case, its check, its speed. */
export interface LabRow extends CheckResult {
  family: LabFamily;
  label: string;
  /** Kernel variant ('tiled', 'register', 'flash', ...). */
  variant: string;
  /** Weight format, or 'f32' for kernels with no weights. */
  format: string;
  /** Human-readable shape, e.g. "128×576×576" (M×N×K). */
  shape: string;
  /** The case as run, so a result can be reproduced. */
  params: LabCase;
  /** GPU time per launch, ms. */
  ms: number;
  /** Bytes a launch must move at least (weights, activations in and out), and its flops. */
  bytes: number;
  flops: number;
  gbps: number;
  gflops: number;
  /** flops / bytes. */
  intensity: number;
  timing: TimingSource;
  iterations: number;
  /** Set when the case could not run; then pass is false and the figures are 0. */
  error?: string;
}
