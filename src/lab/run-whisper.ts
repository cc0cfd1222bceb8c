/**
 * Whisper's own kernels in the lab: LayerNorm, exact GELU, conv1d (unfold + matmul), the
 * position-embedding row add and non-causal attention (one thread per query, or per-head matmuls),
 * each checked against src/reference/whisper.ts on a sample of its output.
 */
import { createStorage, readF32, uploadStorage } from '../gpu/buffers.js';
import type { GpuContext } from '../gpu/device.js';
import { destroyWeight, uploadWeight } from '../gpu/weights.js';
import { addRows } from '../kernels/add_rows.js';
import { attentionFull, attentionFullMatmul } from '../kernels/attention_full.js';
import { conv1d } from '../kernels/conv1d.js';
import { gelu } from '../kernels/gelu.js';
import { layerNorm } from '../kernels/layernorm.js';
import { WHISPER_EPS } from '../formats/whisper.js';
import { addRowsRef, conv1dRef, geluRef, layerNormRef, mhaRef } from '../reference/whisper.js';
import { ErrorTally, TOLERANCE } from './check.js';
import { randomF32, sampleIndices } from './data.js';
import { BufferSet, type PreparedCase } from './prepared.js';
import type { LabCase } from './types.js';

const SAMPLE_ROWS = 32;

type Case<F extends LabCase['family']> = Extract<LabCase, { family: F }>;

/** LayerNorm of each of `rows` rows: (x - mean) / sqrt(var + eps) * g + b. */
export function prepareLayerNorm(ctx: GpuContext, c: Case<'layernorm'>, step: GPUBuffer): PreparedCase {
  const { rows, cols } = c;
  const seed = rows * 11 + cols;
  // an offset mean, as residual streams have, so the kernel must really subtract it
  const x = randomF32(rows * cols, seed, 3).map((v, i) => v + ((i / cols) | 0) % 5);
  const g = randomF32(cols, seed + 1);
  const b = randomF32(cols, seed + 2);
  const bufs = new BufferSet();
  const out = bufs.add(createStorage(ctx, x.byteLength, 'lab.layernorm_out'));
  const dispatch = layerNorm(
    ctx,
    { step, x: bufs.add(uploadStorage(ctx, x, 'lab.x')), weight: bufs.add(uploadStorage(ctx, g, 'lab.ln_g')), bias: bufs.add(uploadStorage(ctx, b, 'lab.ln_b')), out, cols, maxTokens: rows, eps: WHISPER_EPS },
    'lab.layernorm',
  );
  return {
    dispatches: [dispatch],
    step: { tokens: rows, pos: 0, kvLen: rows },
    bytes: (2 * rows * cols + 2 * cols) * 4,
    // mean, centre and square, scale, times g plus b
    flops: 7 * rows * cols,
    async verify() {
      const got = await readF32(ctx, out, rows * cols);
      const tally = new ErrorTally(TOLERANCE.layernorm, got.length);
      for (const i of sampleIndices(rows, SAMPLE_ROWS, seed + 3)) {
        tally.add(got.subarray(i * cols, (i + 1) * cols), layerNormRef(x.subarray(i * cols, (i + 1) * cols), g, b, 1, cols));
      }
      return tally.result();
    },
    destroy: () => bufs.destroy(),
  };
}

/** x = gelu(x), the exact (erf) form, in place over tokens x n. */
export function prepareGelu(ctx: GpuContext, c: Case<'gelu'>, step: GPUBuffer): PreparedCase {
  const { tokens, n } = c;
  const seed = tokens * 13 + n;
  // +-6 covers both tails and the curved middle
  const x = randomF32(tokens * n, seed, 6);
  const bufs = new BufferSet();
  const xb = bufs.add(uploadStorage(ctx, x, 'lab.gelu_x'));
  return {
    dispatches: [gelu(ctx, { step, x: xb, n, maxTokens: tokens }, 'lab.gelu')],
    step: { tokens, pos: 0, kvLen: tokens },
    bytes: 2 * tokens * n * 4,
    // erf by a polynomial and the product: ~20 operations an element
    flops: 20 * tokens * n,
    async verify() {
      const got = await readF32(ctx, xb, tokens * n);
      const tally = new ErrorTally(TOLERANCE.gelu, got.length);
      for (const t of sampleIndices(tokens, SAMPLE_ROWS, seed + 1)) tally.add(got.subarray(t * n, (t + 1) * n), geluRef(x.subarray(t * n, (t + 1) * n)));
      return tally.result();
    },
    destroy: () => bufs.destroy(),
  };
}

/** The output time steps of a kernel-3, padding-1 conv1d. */
export const conv1dSteps = (tIn: number, stride: number): number => Math.floor((tIn - 1) / stride) + 1;

/** conv1d, kernel 3, padding 1, stride 1 or 2 (Whisper's encoder stem): unfold, then a matmul with the bias. */
export function prepareConv1d(ctx: GpuContext, c: Case<'conv1d'>, step: GPUBuffer): PreparedCase {
  const { tIn, cIn, cOut, stride } = c;
  const tOut = conv1dSteps(tIn, stride);
  const seed = tIn * 17 + cIn * 5 + cOut + stride;
  const x = randomF32(tIn * cIn, seed);
  const w = randomF32(cOut * cIn * 3, seed + 1);
  const bias = randomF32(cOut, seed + 2);
  const bufs = new BufferSet();
  const weight = uploadWeight(ctx, 'f32', cOut, cIn * 3, new Uint8Array(w.buffer), { label: 'lab.conv1d.w' });
  const out = bufs.add(createStorage(ctx, tOut * cOut * 4, 'lab.conv1d_out'));
  const dispatches = conv1d(
    ctx,
    {
      step,
      x: bufs.add(uploadStorage(ctx, x, 'lab.conv1d_x')),
      tIn,
      cIn,
      w: weight,
      bias: bufs.add(uploadStorage(ctx, bias, 'lab.conv1d_b')),
      stride,
      columns: bufs.add(createStorage(ctx, tOut * cIn * 3 * 4, 'lab.conv1d_columns')),
      out,
      maxTokens: tOut,
      variant: c.variant,
    },
    'lab.conv1d',
  );
  return {
    dispatches,
    step: { tokens: tOut, pos: 0, kvLen: tOut },
    // x in, the weight, the unfolded columns written and read back, y out
    bytes: (tIn * cIn + weight.bytes / 4 + 2 * tOut * cIn * 3 + tOut * cOut) * 4,
    flops: 2 * tOut * cOut * cIn * 3,
    async verify() {
      const got = await readF32(ctx, out, tOut * cOut);
      const tally = new ErrorTally(TOLERANCE.conv1d, got.length);
      // the reference over a few output steps at a time: each needs input steps t*stride-1 .. t*stride+1
      for (const t of sampleIndices(tOut, 16, seed + 3)) {
        const lo = Math.max(0, t * stride - 1);
        const hi = Math.min(tIn, t * stride + 2);
        const xs = new Float32Array(3 * cIn);
        xs.set(x.subarray(lo * cIn, hi * cIn), (lo - (t * stride - 1)) * cIn);
        // a 3-step window with its own zero padding: output step 1 of a stride-1 conv over it is step t
        const want = conv1dRef(xs, 3, cIn, w, bias, cOut, 1).subarray(cOut, 2 * cOut);
        tally.add(got.subarray(t * cOut, (t + 1) * cOut), want);
      }
      return tally.result();
    },
    destroy() {
      destroyWeight(weight);
      bufs.destroy();
    },
  };
}

/** x[t, :] += table[pos + t, :] in place: the learned position embeddings. */
export function prepareAddRows(ctx: GpuContext, c: Case<'add_rows'>, step: GPUBuffer): PreparedCase {
  const { tokens, n, rows, pos } = c;
  const seed = tokens * 19 + n + rows + pos;
  const x = randomF32(tokens * n, seed);
  const table = randomF32(rows * n, seed + 1);
  const bufs = new BufferSet();
  const xb = bufs.add(uploadStorage(ctx, x, 'lab.add_rows_x'));
  return {
    dispatches: [addRows(ctx, { step, x: xb, table: bufs.add(uploadStorage(ctx, table, 'lab.add_rows_table')), n, rows, maxTokens: tokens }, 'lab.add_rows')],
    step: { tokens, pos, kvLen: pos + tokens },
    bytes: 3 * tokens * n * 4,
    flops: tokens * n,
    async verify() {
      const got = await readF32(ctx, xb, tokens * n);
      const tally = new ErrorTally(TOLERANCE.add_rows, got.length);
      tally.add(got, addRowsRef(x, table, tokens, n, pos));
      return tally.result();
    },
    destroy: () => bufs.destroy(),
  };
}

/**
 * Non-causal multi-head attention of `tokens` queries over `kvLen` keys (Whisper's encoder
 * self-attention and decoder cross-attention): 'direct' is one thread per query and head
 * (shaders/attention_full.wgsl); 'matmul' the per-head matmul form (self-attention: tokens = kvLen).
 */
export function prepareAttentionFull(ctx: GpuContext, c: Case<'attention_full'>, step: GPUBuffer): PreparedCase {
  const { heads, headDim, tokens, kvLen, method } = c;
  const d = heads * headDim;
  const seed = heads * 23 + headDim + tokens * 3 + kvLen;
  const q = randomF32(tokens * d, seed);
  const k = randomF32(kvLen * d, seed + 1);
  const v = randomF32(kvLen * d, seed + 2);
  const bufs = new BufferSet();
  const out = bufs.add(createStorage(ctx, tokens * d * 4, 'lab.attention_full_out'));
  const args = {
    step,
    q: bufs.add(uploadStorage(ctx, q, 'lab.q')),
    k: bufs.add(uploadStorage(ctx, k, 'lab.k')),
    v: bufs.add(uploadStorage(ctx, v, 'lab.v')),
    out,
    heads,
    headDim,
    kvLen,
    maxTokens: tokens,
  };
  const dispatches = method === 'matmul' ? attentionFullMatmul(ctx, args, 'lab.attention_full') : [attentionFull(ctx, args, 'lab.attention_full')];
  return {
    dispatches,
    step: { tokens, pos: 0, kvLen },
    bytes: (2 * tokens * d + 2 * kvLen * d) * 4,
    // q.k and p.v per query, key and head dimension, plus the softmax
    flops: 4 * tokens * kvLen * d + 3 * tokens * kvLen * heads,
    async verify() {
      const got = await readF32(ctx, out, tokens * d);
      const tally = new ErrorTally(TOLERANCE.attention_full, got.length);
      for (const t of sampleIndices(tokens, 8, seed + 3)) {
        tally.add(got.subarray(t * d, (t + 1) * d), mhaRef(q.subarray(t * d, (t + 1) * d), k, v, 1, kvLen, heads, headDim));
      }
      return tally.result();
    },
    destroy: () => bufs.destroy(),
  };
}
