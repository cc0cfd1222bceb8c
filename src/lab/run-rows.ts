import { createStorage, readF32, uploadStorage } from '../gpu/buffers.js';
import type { GpuContext } from '../gpu/device.js';
import { rmsNorm } from '../kernels/rmsnorm.js';
import { softmax } from '../kernels/softmax.js';
import { rmsNormRef } from '../reference/norm.js';
import { softmaxRef } from '../reference/softmax.js';
import { ErrorTally, TOLERANCE } from './check.js';
import { randomF32, sampleIndices } from './data.js';
import { BufferSet, type PreparedCase } from './prepared.js';
import type { LabCase } from './types.js';

const SAMPLE_ROWS = 32;
const EPS = 1e-5;

/** RMSNorm of `rows` rows (tokens), optionally fused with the residual add (x += r, then normalize). */
export function prepareRmsNorm(ctx: GpuContext, c: Extract<LabCase, { family: 'rmsnorm' }>, step: GPUBuffer): PreparedCase {
  const { rows, cols } = c;
  const seed = rows * 7 + cols;
  const x = randomF32(rows * cols, seed, 3);
  const r = randomF32(rows * cols, seed + 1);
  const w = randomF32(cols, seed + 2);
  const bufs = new BufferSet();
  const out = bufs.add(createStorage(ctx, x.byteLength, 'lab.norm_out'));
  const args = { step, x: bufs.add(uploadStorage(ctx, x, 'lab.x')), weight: bufs.add(uploadStorage(ctx, w, 'lab.norm_w')), out, cols, eps: EPS };
  const dispatch = rmsNorm(ctx, c.residual ? { ...args, residual: bufs.add(uploadStorage(ctx, r, 'lab.residual')) } : args, 'lab.rmsnorm');
  const rowFloats = c.residual ? 4 : 2; // x (and residual) in, out (and x) written
  return {
    dispatches: [dispatch],
    step: { tokens: rows, pos: 0, kvLen: rows },
    bytes: (rowFloats * rows * cols + cols) * 4,
    // square and add, scale, times the weight (and the residual add)
    flops: (c.residual ? 5 : 4) * rows * cols,
    async verify() {
      const got = await readF32(ctx, out, rows * cols);
      const tally = new ErrorTally(TOLERANCE.rmsnorm, got.length);
      for (const i of sampleIndices(rows, SAMPLE_ROWS, seed + 3)) {
        const row = x.slice(i * cols, (i + 1) * cols);
        if (c.residual) for (let j = 0; j < cols; j++) row[j] = row[j]! + r[i * cols + j]!;
        tally.add(got.subarray(i * cols, (i + 1) * cols), rmsNormRef(row, w, 1, cols, EPS));
      }
      return tally.result();
    },
    destroy: () => bufs.destroy(),
  };
}

/** Softmax of each row (the sampler's over a vocabulary, or attention scores). */
export function prepareSoftmax(ctx: GpuContext, c: Extract<LabCase, { family: 'softmax' }>, step: GPUBuffer): PreparedCase {
  const { rows, cols } = c;
  const seed = rows * 5 + cols;
  // logits spread over +-8: a peaked distribution, as real logits are
  const x = randomF32(rows * cols, seed, 8);
  const bufs = new BufferSet();
  const out = bufs.add(createStorage(ctx, x.byteLength, 'lab.softmax_out'));
  const dispatch = softmax(ctx, { step, x: bufs.add(uploadStorage(ctx, x, 'lab.logits')), out, cols, maxTokens: rows }, 'lab.softmax');
  return {
    dispatches: [dispatch],
    step: { tokens: rows, pos: 0, kvLen: rows },
    bytes: 2 * rows * cols * 4,
    // max, exp and sum, scale
    flops: 4 * rows * cols,
    async verify() {
      const got = await readF32(ctx, out, rows * cols);
      const tally = new ErrorTally(TOLERANCE.softmax, got.length);
      for (const i of sampleIndices(rows, SAMPLE_ROWS, seed + 1)) {
        tally.add(got.subarray(i * cols, (i + 1) * cols), softmaxRef(x.subarray(i * cols, (i + 1) * cols), 1, cols));
      }
      return tally.result();
    },
    destroy: () => bufs.destroy(),
  };
}
