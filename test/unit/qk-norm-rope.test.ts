/**
 * The q/k norm + RoPE launch (Qwen3, Gemma 3) against the CPU reference (per-head rmsnorm, then
 * RoPE), at ragged shapes in both pair conventions, and bit for bit against the launches it
 * replaces (rmsnorm over each head, then rope).
 */
import { describe, expect, it } from 'vitest';
import { qkNormRope } from '../../src/kernels/qk_norm_rope.js';
import { rmsNorm } from '../../src/kernels/rmsnorm.js';
import { rope, ropeInvFreq, type RopeStyle } from '../../src/kernels/rope.js';
import { rmsNormRef } from '../../src/reference/norm.js';
import { ropeRef } from '../../src/reference/rope.js';
import { createStorage, readF32, uploadStorage } from '../../src/gpu/buffers.js';
import { run, testGpu, testStep } from '../helpers/gpu.js';
import { compare, randomF32 } from '../helpers/random.js';

describe('qk_norm_rope', () => {
  const cases: [tokens: number, nHeads: number, nKvHeads: number, headDim: number, rotaryDim: number, pos: number][] = [
    [1, 4, 1, 256, 256, 37],
    [3, 3, 1, 8, 8, 0],
    [5, 4, 2, 24, 16, 11],
    [2, 8, 2, 64, 64, 300],
    [7, 2, 2, 128, 96, 5],
  ];
  for (const [tokens, nHeads, nKvHeads, headDim, rotaryDim, pos] of cases) {
    for (const style of ['half', 'interleaved'] as RopeStyle[]) {
      it(`${style}: ${tokens} tokens x ${nHeads} q heads + ${nKvHeads} k heads x ${headDim} (rotary ${rotaryDim}) at pos ${pos}`, async () => {
        const ctx = await testGpu();
        const step = await testStep();
        const maxTokens = tokens + 1;
        const eps = 1e-6;
        const q = randomF32(maxTokens * nHeads * headDim, 3 + headDim + pos, 2);
        const k = randomF32(maxTokens * nKvHeads * headDim, 4 + headDim + pos, 3);
        const qNorm = randomF32(headDim, 5, 1.5);
        const kNorm = randomF32(headDim, 6, 1.5);
        const invFreq = ropeInvFreq(rotaryDim, 10000);
        const buf = (x: Float32Array, l: string) => uploadStorage(ctx, x, l);
        const [qb, kb, qn, kn, fb] = [buf(q, 'q'), buf(k, 'k'), createStorage(ctx, q.byteLength, 'qn'), createStorage(ctx, k.byteLength, 'kn'), buf(invFreq, 'inv_freq')];
        const [qw, kw] = [buf(qNorm, 'q_norm'), buf(kNorm, 'k_norm')];
        const r = { invFreq: fb, rotaryDim, style };
        await run(qkNormRope(ctx, { step: step.buffer, q: qb, k: kb, qNorm: qw, kNorm: kw, qOut: qn, kOut: kn, nHeads, nKvHeads, headDim, eps, maxTokens, rope: r }), { tokens, pos, kvLen: pos + tokens });
        const gotQ = (await readF32(ctx, qn)).subarray(0, tokens * nHeads * headDim);
        const gotK = (await readF32(ctx, kn)).subarray(0, tokens * nKvHeads * headDim);
        const ref = (x: Float32Array, w: Float32Array, heads: number) => ropeRef(rmsNormRef(x.subarray(0, tokens * heads * headDim), w, tokens * heads, headDim, eps), tokens, heads, headDim, rotaryDim, invFreq, style, pos);
        // normed values reach a few units: RoPE's f32 error (test/unit/rope.test.ts) times that, and the norm's
        const tol = 4 * (Math.SQRT2 * (pos + tokens) * 2 ** -24 * 1.05 + 2e-6) + 1e-5;
        expect(compare(gotQ, ref(q, qNorm, nHeads)).maxAbs).toBeLessThan(tol);
        expect(compare(gotK, ref(k, kNorm, nKvHeads)).maxAbs).toBeLessThan(tol);

        // the launches it replaces give the same bits
        const [qa, ka] = [createStorage(ctx, q.byteLength, 'qa'), createStorage(ctx, k.byteLength, 'ka')];
        await run(
          [
            rmsNorm(ctx, { step: step.buffer, x: qb, weight: qw, out: qa, cols: headDim, rowsPerToken: nHeads, eps }),
            rmsNorm(ctx, { step: step.buffer, x: kb, weight: kw, out: ka, cols: headDim, rowsPerToken: nKvHeads, eps }),
            rope(ctx, { step: step.buffer, x: qa, nHeads, headDim, rotaryDim, invFreq: fb, style, maxTokens }),
            rope(ctx, { step: step.buffer, x: ka, nHeads: nKvHeads, headDim, rotaryDim, invFreq: fb, style, maxTokens }),
          ],
          { tokens, pos, kvLen: pos + tokens },
        );
        expect(compare(gotQ, (await readF32(ctx, qa)).subarray(0, gotQ.length)).maxAbs).toBe(0);
        expect(compare(gotK, (await readF32(ctx, ka)).subarray(0, gotK.length)).maxAbs).toBe(0);
      });
    }
  }
});
