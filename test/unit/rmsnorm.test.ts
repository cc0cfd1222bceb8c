import { describe, expect, it } from 'vitest';
import { rmsNorm } from '../../src/kernels/rmsnorm.js';
import { normPartialsBytes } from '../../src/kernels/matmul.js';
import { addInPlace, rmsNormRef } from '../../src/reference/norm.js';
import { createStorage, readF32, uploadStorage } from '../../src/gpu/buffers.js';
import { rowReduceThreads } from '../../src/gpu/device.js';
import { run, testGpu, testStep } from '../helpers/gpu.js';
import { compare, randomF32 } from '../helpers/random.js';

// f32 throughout; the only difference from the reference is summation order.
const TOL = 1e-5;

describe('rmsnorm kernel', () => {
  for (const [tokens, rowsPerToken, cols] of [
    [1, 1, 64],
    [7, 1, 333],
    [3, 4, 8],
    [5, 2, 129],
    [1, 1, 640],
  ] as const) {
    it(`matches the reference at ${tokens}x${rowsPerToken}x${cols}, with and without residual, and as post-add`, async () => {
      const ctx = await testGpu();
      const step = await testStep();
      const rows = tokens * rowsPerToken;
      const x = randomF32(rows * cols, 1 + cols, 3);
      const r = randomF32(rows * cols, 2 + cols);
      const w = randomF32(cols, 3 + cols);
      for (const residual of [false, true]) {
        for (const addOne of [false, true]) {
          const xb = uploadStorage(ctx, x, 'x');
          const out = createStorage(ctx, rows * cols * 4, 'y');
          const d = rmsNorm(ctx, {
            step: step.buffer, x: xb, weight: uploadStorage(ctx, w, 'w'), out, cols, rowsPerToken, eps: 1e-5, addOne,
            residual: residual ? uploadStorage(ctx, r, 'r') : undefined,
          });
          await run(d, { tokens });
          const xr = residual ? addInPlace(new Float32Array(x), r) : x;
          const want = rmsNormRef(xr, w, rows, cols, 1e-5, addOne);
          expect(compare(await readF32(ctx, out, rows * cols), want).maxRel).toBeLessThan(TOL);
          if (residual) expect(compare(await readF32(ctx, xb, rows * cols), xr).maxAbs).toBe(0);
        }
      }
      // post-add (Gemma 3's post-norms): x += rmsnorm(r) * w, no output written
      for (const addOne of [false, true]) {
        const xb = uploadStorage(ctx, x, 'x');
        await run(rmsNorm(ctx, { step: step.buffer, x: xb, weight: uploadStorage(ctx, w, 'w'), residual: uploadStorage(ctx, r, 'r'), mode: 'post-add', cols, rowsPerToken, eps: 1e-5, addOne }), { tokens });
        const want = addInPlace(new Float32Array(x), rmsNormRef(r, w, rows, cols, 1e-5, addOne));
        expect(compare(await readF32(ctx, xb, rows * cols), want).maxRel, `post-add, addOne ${addOne}`).toBeLessThan(TOL);
      }
      // post-add feeding the next norm's decode GEMV: the same x, and at one-token steps x * g and
      // its sum of squares as the partials (the total first and zeros below 64 of them) (at prefill steps xg and the partials are left alone)
      if (rowsPerToken === 1) {
        const g = randomF32(cols, 4 + cols);
        const nPartials = normPartialsBytes(cols) / 4;
        const xb = uploadStorage(ctx, x, 'x');
        const xg = uploadStorage(ctx, new Float32Array(cols).fill(7), 'xg');
        const partials = uploadStorage(ctx, new Float32Array(nPartials).fill(7), 'partials');
        await run(rmsNorm(ctx, { step: step.buffer, x: xb, weight: uploadStorage(ctx, w, 'w'), residual: uploadStorage(ctx, r, 'r'), mode: 'post-add', cols, eps: 1e-5, addOne: true, feed: { weight: uploadStorage(ctx, g, 'g'), xg, partials } }), { tokens });
        const want = addInPlace(new Float32Array(x), rmsNormRef(r, w, rows, cols, 1e-5, true));
        expect(compare(await readF32(ctx, xb, rows * cols), want).maxRel, 'post-add feeding').toBeLessThan(TOL);
        const sums = await readF32(ctx, partials, nPartials);
        if (tokens === 1) {
          expect(compare(await readF32(ctx, xg, cols), want.map((v, i) => v * g[i]!)).maxRel, 'xg').toBeLessThan(TOL);
          const ss = want.reduce((s, v) => s + v * v, 0);
          expect(Math.abs(sums.reduce((s, v) => s + v, 0) - ss) / ss).toBeLessThan(TOL);
          // with fewer partials than the workgroup's threads the total comes first, zeros after
          if (nPartials < rowReduceThreads(ctx)) expect([...sums.slice(1)].every((v) => v === 0)).toBe(true);
        } else {
          expect([...(await readF32(ctx, xg, cols)), ...sums].every((v) => v === 7)).toBe(true);
        }
      }
    });
  }
});
