/**
 * Activation quantization (llama.cpp's q8_0 / q8_K blocks before a quantized dot product) on the
 * GPU against reference/act-quant.ts, at ragged row counts, with all-zero blocks and exact ties.
 */
import { describe, expect, it } from 'vitest';
import { quantizeAct } from '../../src/kernels/quantize_act.js';
import { quantizeActRef, roundHalfEven } from '../../src/reference/act-quant.js';
import { createStorage, readF32, uploadStorage } from '../../src/gpu/buffers.js';
import { ACT_BLOCK, type ActQuant } from '../../src/quant/formats.js';
import { roundF16 } from '../../src/util/f16.js';
import { run, testGpu, testStep } from '../helpers/gpu.js';
import { randomF32, rng } from '../helpers/random.js';

/** Random rows with, per row, an all-zero block, a block of exact ties, and a tiny-valued block. */
function activations(rows: number, cols: number, B: number, seed: number): Float32Array {
  const x = randomF32(rows * cols, seed, 3);
  const r = rng(seed + 1);
  for (let row = 0; row < rows; row++) {
    const blocks = cols / B;
    const at = (b: number) => row * cols + (b % blocks) * B;
    x.fill(0, at(0), at(0) + B);
    if (blocks > 1) {
      // amax 127 (q8_0: d = 1) or max -127 (q8_K: iscale = 1): x * scale lands on k + 0.5
      const o = at(1);
      x[o] = B === 32 ? 127 : -127;
      for (let j = 1; j < B; j++) x[o + j] = Math.floor(r() * 200 - 100) + 0.5;
    }
    if (blocks > 2) for (let j = 0; j < B; j++) x[at(2) + j] *= 1e-6; // f16-subnormal q8_0 scales
  }
  return x;
}

/**
 * Every value equal to a few ulps (the GPU's f32 division may be an ulp off: WGSL allows 2.5,
 * and q8_K keeps d = 1 / iscale unrounded), except where that moved x * scale across a rounding
 * boundary: there the two differ by one step of that block's scale. Rounding toward zero meets
 * such a boundary at every block's largest value (amax / (amax / 127) = 127 +- an ulp).
 */
function expectSame(got: Float32Array, want: Float32Array, x: Float32Array, B: number, flips: number): void {
  let off = 0;
  for (let i = 0; i < want.length; i++) {
    if (Math.abs(got[i]! - want[i]!) <= 5e-7 * Math.abs(want[i]!)) continue;
    const o = i - (i % B);
    let amax = 0;
    for (let j = 0; j < B; j++) amax = Math.max(amax, Math.abs(x[o + j]!));
    expect(Math.abs(got[i]! - want[i]!), `value ${i}: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual((amax / 127) * 1.01);
    off++;
  }
  expect(off, 'values one step apart').toBeLessThanOrEqual(flips);
}

describe('quantize_act kernel', () => {
  const cases: [ActQuant, number, number][] = [
    ['q8_0', 1, 32],
    ['q8_0', 3, 96],
    ['q8_0', 7, 576],
    ['q8_K', 1, 256],
    ['q8_K', 3, 768],
    ['q8_K', 7, 1536],
  ];
  for (const [kind, rows, cols] of cases) {
    it(`${kind} matches the reference at ${rows} x ${cols}`, async () => {
      const ctx = await testGpu();
      const step = await testStep();
      const B = ACT_BLOCK[kind];
      const maxTokens = rows + 2;
      const x = activations(maxTokens, cols, B, rows * 1000 + cols);
      const xb = uploadStorage(ctx, x, 'x');
      const out = createStorage(ctx, maxTokens * cols * 4, 'out');
      for (const trunc of kind === 'q8_0' ? [false, true] : [false]) {
        const d = quantizeAct(ctx, { step: step.buffer, x: xb, out, cols, maxTokens, kind, trunc });
        await run(d, { tokens: rows });
        const got = await readF32(ctx, out, rows * cols);
        const want = quantizeActRef(x.subarray(0, rows * cols), rows, cols, kind, { trunc });
        expectSame(got, want, x, B, trunc ? (rows * cols) / B : Math.ceil((rows * cols) / 2000));
        // rows past step.tokens are left alone
        if (!trunc) expect(Array.from(await readF32(ctx, out, (rows + 1) * cols)).slice(rows * cols).every((v) => v === 0)).toBe(true);
      }
    });
  }

  it('rejects rows that are not whole blocks', async () => {
    const ctx = await testGpu();
    const step = await testStep();
    const b = createStorage(ctx, 4 * 300, 'b');
    expect(() => quantizeAct(ctx, { step: step.buffer, x: b, out: createStorage(ctx, 4 * 300, 'o'), cols: 300, maxTokens: 1, kind: 'q8_K' })).toThrow(/multiple of 256/);
  });
});

describe('reference activation quantization', () => {
  it('follows ggml: q8_0 d = f16(amax/127), ties to even; q8_K d = 1/iscale, q <= 127; zero blocks stay zero', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2]);
    const x = new Float32Array(32);
    x[0] = 1;
    x[1] = 0.3;
    x[2] = -0.3;
    const d = roundF16(Math.fround(1 / 127));
    const q = quantizeActRef(x, 1, 32, 'q8_0');
    expect(q[0]).toBe(Math.fround(127 * d));
    expect(q[1]).toBe(Math.fround(Math.round(Math.fround(0.3 * Math.fround(1 / Math.fround(1 / 127)))) * d));
    expect(q[2]).toBe(-q[1]!);
    expect(quantizeActRef(new Float32Array(256), 1, 256, 'q8_K').every((v) => v === 0)).toBe(true);
    const k = new Float32Array(256).fill(0.25);
    k[7] = -2;
    const kq = quantizeActRef(k, 1, 256, 'q8_K');
    expect(kq[7]).toBe(-2);
    // iscale = 63.5: 0.25 * 63.5 = 15.875 -> 16, times d = 1/63.5
    expect(kq[0]).toBe(Math.fround(16 * Math.fround(1 / 63.5)));
  });
});
