import { createStorage, readF32, uploadStorage } from '../gpu/buffers.js';
import type { GpuContext } from '../gpu/device.js';
import { destroyWeight, uploadWeight } from '../gpu/weights.js';
import { embed } from '../kernels/embed.js';
import { rope, ropeInvFreq } from '../kernels/rope.js';
import { siluMul } from '../kernels/silu_mul.js';
import { siluMulRef } from '../reference/elementwise.js';
import { embedRef } from '../reference/embed.js';
import { ropeRef } from '../reference/rope.js';
import { ErrorTally, TOLERANCE } from './check.js';
import { randomF32, randomIds, randomNativeWeight, sampleIndices } from './data.js';
import { BufferSet, type PreparedCase } from './prepared.js';
import type { LabCase } from './types.js';

const SAMPLE_TOKENS = 16;
const SAMPLE_VALUES = 4096;

/** RoPE in place on q/k rows [tokens, heads, headDim], token t at position pos + t. */
export function prepareRope(ctx: GpuContext, c: Extract<LabCase, { family: 'rope' }>, step: GPUBuffer): PreparedCase {
  const { tokens, nHeads, headDim, pos, theta, style } = c;
  const seed = tokens * 3 + nHeads * 11 + headDim;
  const x = randomF32(tokens * nHeads * headDim, seed);
  const invFreq = ropeInvFreq(headDim, theta);
  const bufs = new BufferSet();
  const xb = bufs.add(uploadStorage(ctx, x, 'lab.qk'));
  const dispatch = rope(ctx, { step, x: xb, nHeads, headDim, rotaryDim: headDim, invFreq: bufs.add(uploadStorage(ctx, invFreq, 'lab.inv_freq')), style, maxTokens: tokens }, 'lab.rope');
  const width = nHeads * headDim;
  return {
    dispatches: [dispatch],
    step: { tokens, pos, kvLen: pos + tokens },
    bytes: (2 * tokens * width + headDim / 2) * 4,
    // per pair: four multiplies and two adds (cos/sin counted as free)
    flops: 3 * tokens * width,
    async verify() {
      const got = await readF32(ctx, xb, tokens * width);
      const tally = new ErrorTally(TOLERANCE.rope, got.length);
      for (const t of sampleIndices(tokens, SAMPLE_TOKENS, seed + 1)) {
        // the kernel rounds the angle to f32 as Hugging Face does; so does this reference
        const want = ropeRef(x.slice(t * width, (t + 1) * width), 1, nHeads, headDim, headDim, invFreq, style, pos + t, true);
        tally.add(got.subarray(t * width, (t + 1) * width), want);
      }
      return tally.result();
    },
    destroy: () => bufs.destroy(),
  };
}

/** silu(gate) * up over [tokens, n], the gated MLP's product. */
export function prepareSiluMul(ctx: GpuContext, c: Extract<LabCase, { family: 'silu_mul' }>, step: GPUBuffer): PreparedCase {
  const { tokens, n } = c;
  const seed = tokens * 13 + n;
  const gate = randomF32(tokens * n, seed, 4);
  const up = randomF32(tokens * n, seed + 1);
  const bufs = new BufferSet();
  const out = bufs.add(createStorage(ctx, gate.byteLength, 'lab.silu_out'));
  const dispatch = siluMul(ctx, { step, gate: bufs.add(uploadStorage(ctx, gate, 'lab.gate')), up: bufs.add(uploadStorage(ctx, up, 'lab.up')), out, n, maxTokens: tokens }, 'lab.silu_mul');
  return {
    dispatches: [dispatch],
    step: { tokens, pos: 0, kvLen: tokens },
    bytes: 3 * tokens * n * 4,
    // negate, exp, add, divide, multiply
    flops: 5 * tokens * n,
    async verify() {
      const got = await readF32(ctx, out, tokens * n);
      const tally = new ErrorTally(TOLERANCE.silu_mul, got.length);
      const at = sampleIndices(tokens * n, SAMPLE_VALUES, seed + 2);
      const pick = (a: Float32Array) => Float32Array.from(at, (i) => a[i]!);
      tally.add(pick(got), siluMulRef(pick(gate), pick(up)));
      return tally.result();
    },
    destroy: () => bufs.destroy(),
  };
}

/** Embedding gather of `tokens` random ids from a [vocab, cols] table in its storage format. */
export function prepareEmbed(ctx: GpuContext, c: Extract<LabCase, { family: 'embed' }>, step: GPUBuffer): PreparedCase {
  const { format, vocab, cols, tokens } = c;
  const seed = vocab + cols * 3 + tokens;
  const native = randomNativeWeight(format, vocab, cols, seed);
  const ids = randomIds(tokens, vocab, seed + 1);
  const bufs = new BufferSet();
  const table = uploadWeight(ctx, format, vocab, cols, native, { label: 'lab.embed_table' });
  const out = bufs.add(createStorage(ctx, tokens * cols * 4, 'lab.embed_out'));
  const dispatches = embed(ctx, { step, ids: bufs.add(uploadStorage(ctx, ids, 'lab.ids')), table, out, maxTokens: tokens }, 'lab.embed');
  return {
    dispatches,
    step: { tokens, pos: 0, kvLen: tokens },
    // the rows gathered (as stored) and the f32 rows written
    bytes: tokens * ((table.bytes / vocab) + cols * 4 + 4),
    flops: tokens * cols,
    async verify() {
      const got = await readF32(ctx, out, tokens * cols);
      const tally = new ErrorTally(TOLERANCE.embed, got.length);
      for (const t of sampleIndices(tokens, SAMPLE_TOKENS, seed + 2)) {
        tally.add(got.subarray(t * cols, (t + 1) * cols), embedRef(format, native, vocab, cols, [ids[t]!]));
      }
      return tally.result();
    },
    destroy() {
      destroyWeight(table);
      bufs.destroy();
    },
  };
}
