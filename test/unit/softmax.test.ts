import { describe, expect, it } from 'vitest';
import { softmax } from '../../src/kernels/softmax.js';
import { softmaxRef } from '../../src/reference/softmax.js';
import { createStorage, readF32, uploadStorage } from '../../src/gpu/buffers.js';
import { run, testGpu, testStep } from '../helpers/gpu.js';
import { compare } from '../helpers/random.js';
import { randomF32 } from '../helpers/random.js';

// Against an f64 reference: exp() may be off by 3 + 2|x| ulp (|x| <= 2 * scale here), the sum
// rounds in a different order, and the online rescaling multiplies by exp(m_old - m_new):
// ~1e-6 relative per element, so 2e-5 of the row's largest probability.
const TOL = 2e-5;

function relPerRow(got: Float32Array, want: Float32Array, rows: number, cols: number): number {
  let worst = 0;
  for (let r = 0; r < rows; r++) {
    worst = Math.max(worst, compare(got.subarray(r * cols, (r + 1) * cols), want.subarray(r * cols, (r + 1) * cols)).maxRel);
  }
  return worst;
}

describe('softmax kernel', () => {
  for (const [tokens, rowsPerToken, cols, scale] of [
    [1, 1, 64, 4],
    [3, 1, 1000, 10],
    [2, 4, 37, 4],
    [2, 1, 5000, 8], // takes the 256-wide variant
    [4, 2, 3, 1],
  ] as const) {
    for (const inPlace of [false, true]) {
      it(`${tokens} x ${rowsPerToken} rows of ${cols}, scores in [-${scale}, ${scale}], ${inPlace ? 'in place' : 'to out'}`, async () => {
        const ctx = await testGpu();
        const step = await testStep();
        const maxTokens = tokens + 1;
        const rows = tokens * rowsPerToken;
        const n = maxTokens * rowsPerToken * cols;
        const x = randomF32(n, 41 + cols + rowsPerToken, scale);
        const xb = uploadStorage(ctx, x, 'x');
        const out = inPlace ? undefined : uploadStorage(ctx, new Float32Array(n).fill(-1), 'out');
        await run(softmax(ctx, { step: step.buffer, x: xb, out, cols, rowsPerToken, maxTokens }), { tokens });
        const got = await readF32(ctx, out ?? xb, n);
        const want = softmaxRef(x, rows, cols);
        expect(relPerRow(got, want, rows, cols)).toBeLessThan(TOL);
        // rows past step.tokens * rowsPerToken are not touched
        const rest = got.subarray(rows * cols);
        if (inPlace) expect(compare(rest, x.subarray(rows * cols)).maxAbs).toBe(0);
        else expect(rest.every((v) => v === -1)).toBe(true);
        if (!inPlace) expect(compare(await readF32(ctx, xb, n), x).maxAbs).toBe(0);
      });
    }
  }

  it('is stable for large scores and masked (very negative) entries', async () => {
    const ctx = await testGpu();
    const step = await testStep();
    const cols = 100;
    const x = randomF32(2 * cols, 77, 1);
    for (let i = 0; i < cols; i++) x[i] = x[i]! * 10 + 5e4; // exp() would overflow without subtracting the max
    for (let i = cols; i < 2 * cols; i += 3) x[i] = -1e30; // masked out
    const out = createStorage(ctx, x.byteLength, 'out');
    await run(softmax(ctx, { step: step.buffer, x: uploadStorage(ctx, x, 'x'), out, cols, maxTokens: 2 }), { tokens: 2 });
    const got = await readF32(ctx, out, 2 * cols);
    expect(got.every(Number.isFinite)).toBe(true);
    // x - max is exact (Sterbenz), so the bound is the one above
    expect(relPerRow(got, softmaxRef(x, 2, cols), 2, cols)).toBeLessThan(TOL);
    for (let i = cols; i < 2 * cols; i += 3) expect(got[i]).toBe(0);
  });
});
