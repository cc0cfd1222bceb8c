import type { GpuContext } from '../gpu/device.js';
import { StepUniform, destroyDispatches, runDispatches } from '../gpu/dispatch.js';
import { describeCase, validateCase } from './cases.js';
import type { PreparedCase } from './prepared.js';
import { prepareAttention } from './run-attention.js';
import { prepareMatmul } from './run-matmul.js';
import { prepareEmbed, prepareRope, prepareSiluMul } from './run-pointwise.js';
import { prepareRmsNorm, prepareSoftmax } from './run-rows.js';
import { prepareAddRows, prepareAttentionFull, prepareConv1d, prepareGelu, prepareLayerNorm } from './run-whisper.js';
import { timeDispatches } from './timing.js';
import type { LabCase, LabRow } from './types.js';

export interface RunCaseOptions {
  /** Aim for this much GPU time in the timed batch (default 200 ms). */
  budgetMs?: number;
  /** Bounds on the timed runs (defaults 3 and 500). */
  minIterations?: number;
  maxIterations?: number;
  /** A step uniform to reuse across cases; one is made (and destroyed) otherwise. */
  step?: StepUniform;
}

function prepare(ctx: GpuContext, c: LabCase, step: GPUBuffer): PreparedCase {
  switch (c.family) {
    case 'gemv':
    case 'gemm':
      return prepareMatmul(ctx, c, step);
    case 'attention-prefill':
    case 'attention-decode':
      return prepareAttention(ctx, c, step);
    case 'rmsnorm':
      return prepareRmsNorm(ctx, c, step);
    case 'softmax':
      return prepareSoftmax(ctx, c, step);
    case 'rope':
      return prepareRope(ctx, c, step);
    case 'silu_mul':
      return prepareSiluMul(ctx, c, step);
    case 'embed':
      return prepareEmbed(ctx, c, step);
    case 'layernorm':
      return prepareLayerNorm(ctx, c, step);
    case 'gelu':
      return prepareGelu(ctx, c, step);
    case 'conv1d':
      return prepareConv1d(ctx, c, step);
    case 'add_rows':
      return prepareAddRows(ctx, c, step);
    case 'attention_full':
      return prepareAttentionFull(ctx, c, step);
  }
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** A row for a case that could not run: failed, with no figures. */
export function errorRow(c: LabCase, error: string): LabRow {
  return {
    family: c.family,
    label: c.label,
    ...describeCase(c),
    params: c,
    maxAbsErr: Infinity,
    maxRelErr: Infinity,
    tolerance: 0,
    checked: 0,
    total: 0,
    pass: false,
    ms: 0,
    bytes: 0,
    flops: 0,
    gbps: 0,
    gflops: 0,
    intensity: 0,
    timing: 'wallclock',
    iterations: 0,
    error,
  };
}

/**
 * Prepare one case, run it once and check its output against the CPU reference, then time it:
 * a one-run batch sizes the timed batch to about `budgetMs`. Failures (a bad shape, a GPU
 * validation or out-of-memory error) come back as a failed row, never as a throw.
 */
export async function runKernelCase(ctx: GpuContext, c: LabCase, opts: RunCaseOptions = {}): Promise<LabRow> {
  const budget = opts.budgetMs ?? 200;
  const minIters = opts.minIterations ?? 3;
  const maxIters = opts.maxIterations ?? 500;
  const step = opts.step ?? new StepUniform(ctx);
  let prepared: PreparedCase | null = null;
  const device = ctx.device;
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let row: LabRow;
  try {
    validateCase(c);
    prepared = prepare(ctx, c, step.buffer);
    await runDispatches(ctx, prepared.dispatches, prepared.step, step);
    const check = await prepared.verify();
    const probe = await timeDispatches(ctx, prepared.dispatches, prepared.step, 1);
    const iterations = Math.max(minIters, Math.min(maxIters, Math.ceil(budget / Math.max(probe.ms, 1e-3))));
    const { ms, timing } = await timeDispatches(ctx, prepared.dispatches, prepared.step, iterations);
    const { bytes, flops } = prepared;
    row = {
      family: c.family,
      label: c.label,
      ...describeCase(c),
      params: c,
      ...check,
      ms,
      bytes,
      flops,
      gbps: bytes / (ms * 1e6),
      gflops: flops / (ms * 1e6),
      intensity: flops / bytes,
      timing,
      iterations,
    };
  } catch (e) {
    row = errorRow(c, message(e));
  } finally {
    if (prepared) {
      destroyDispatches(prepared.dispatches);
      prepared.destroy();
    }
    if (!opts.step) step.destroy();
  }
  const gpuErrors = [await device.popErrorScope(), await device.popErrorScope()].filter((e): e is GPUError => e !== null);
  if (gpuErrors.length && !row.error) row = errorRow(c, `GPU error: ${gpuErrors.map((e) => e.message).join('; ')}`);
  if (ctx.lost && ctx.lost.reason !== 'destroyed' && !row.error) row = errorRow(c, `GPU device lost: ${ctx.lost.message}`);
  return row;
}

export interface SuiteProgress {
  done: number;
  total: number;
  /** The case about to run (null when the suite is over). */
  next: LabCase | null;
}

export interface RunSuiteOptions extends Omit<RunCaseOptions, 'step'> {
  signal?: AbortSignal;
  onRow?: (row: LabRow, index: number) => void;
  onProgress?: (p: SuiteProgress) => void;
}

/** Let the page paint and handle input between cases (the CPU reference can take a while). */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** Run cases one after another, stopping between cases when `signal` aborts. */
export async function runSuite(ctx: GpuContext, cases: readonly LabCase[], opts: RunSuiteOptions = {}): Promise<LabRow[]> {
  const step = new StepUniform(ctx);
  const rows: LabRow[] = [];
  try {
    for (let i = 0; i < cases.length; i++) {
      if (opts.signal?.aborted) break;
      opts.onProgress?.({ done: i, total: cases.length, next: cases[i]! });
      await yieldToEventLoop();
      const row = await runKernelCase(ctx, cases[i]!, { ...opts, step });
      rows.push(row);
      opts.onRow?.(row, i);
      if (ctx.lost && ctx.lost.reason !== 'destroyed') break;
    }
  } finally {
    step.destroy();
  }
  opts.onProgress?.({ done: rows.length, total: cases.length, next: null });
  return rows;
}
