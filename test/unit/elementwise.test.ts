import { describe, expect, it } from 'vitest';
import { siluMul } from '../../src/kernels/silu_mul.js';
import { add } from '../../src/kernels/add.js';
import { addRef, siluMulRef } from '../../src/reference/elementwise.js';
import { createStorage, readF32, uploadStorage } from '../../src/gpu/buffers.js';
import { run, testGpu, testStep } from '../helpers/gpu.js';
import { compare, randomF32 } from '../helpers/random.js';

describe('silu_mul kernel', () => {
  // exp() in WGSL may be off by 3 + 2|x| ulp, and silu(g) * up adds a few roundings: for |g| <= 8
  // that is ~2e-6 of the largest output.
  const TOL = 1e-5;
  for (const [tokens, n] of [
    [1, 64],
    [3, 1000],
    [7, 37],
  ] as const) {
    it(`matches the reference at ${tokens} x ${n}`, async () => {
      const ctx = await testGpu();
      const step = await testStep();
      const maxTokens = tokens + 2;
      const gate = randomF32(maxTokens * n, 21 + n, 8);
      const up = randomF32(maxTokens * n, 22 + n, 2);
      const sentinel = new Float32Array(maxTokens * n).fill(123);
      const out = uploadStorage(ctx, sentinel, 'out');
      const d = siluMul(ctx, { step: step.buffer, gate: uploadStorage(ctx, gate, 'gate'), up: uploadStorage(ctx, up, 'up'), out, n, maxTokens });
      await run(d, { tokens });
      const got = await readF32(ctx, out, maxTokens * n);
      const m = tokens * n;
      expect(compare(got.subarray(0, m), siluMulRef(gate.subarray(0, m), up.subarray(0, m))).maxRel).toBeLessThan(TOL);
      // rows past step.tokens are not touched
      expect(got.subarray(m).every((x) => x === 123)).toBe(true);
    });
  }

  it('has the right limits for large |gate|', async () => {
    const ctx = await testGpu();
    const step = await testStep();
    const gate = new Float32Array([-200, -90, 90, 200, 0, -1e-3, 1e-3, 30]);
    const up = new Float32Array(gate.length).fill(2);
    const out = createStorage(ctx, gate.length * 4, 'out');
    await run(siluMul(ctx, { step: step.buffer, gate: uploadStorage(ctx, gate, 'g'), up: uploadStorage(ctx, up, 'u'), out, n: gate.length, maxTokens: 1 }), { tokens: 1 });
    const got = await readF32(ctx, out, gate.length);
    expect(got.every(Number.isFinite)).toBe(true);
    expect(compare(got, siluMulRef(gate, up)).maxAbs).toBeLessThan(1e-4);
  });

  it('reads gate and up from one fused [tokens, 2n] buffer (the gate|up matmul) at 5 x 37', async () => {
    const ctx = await testGpu();
    const step = await testStep();
    const [tokens, n, maxTokens] = [5, 37, 6];
    const gate = randomF32(maxTokens * n, 41, 8);
    const up = randomF32(maxTokens * n, 42, 2);
    const fused = new Float32Array(maxTokens * 2 * n);
    for (let t = 0; t < maxTokens; t++) {
      fused.set(gate.subarray(t * n, (t + 1) * n), t * 2 * n);
      fused.set(up.subarray(t * n, (t + 1) * n), t * 2 * n + n);
    }
    const fb = uploadStorage(ctx, fused, 'gate_up');
    const out = uploadStorage(ctx, new Float32Array(maxTokens * n).fill(123), 'out');
    await run(siluMul(ctx, { step: step.buffer, gate: fb, up: fb, out, n, maxTokens, fused: true }), { tokens });
    const got = await readF32(ctx, out, maxTokens * n);
    const m = tokens * n;
    expect(compare(got.subarray(0, m), siluMulRef(gate.subarray(0, m), up.subarray(0, m))).maxRel).toBeLessThan(1e-5);
    expect(got.subarray(m).every((x) => x === 123)).toBe(true);
    // a fused buffer too small for 2n per token is refused
    expect(() => siluMul(ctx, { step: step.buffer, gate: out, up: out, out, n, maxTokens, fused: true })).toThrow(/2n/);
  });
});

describe('add kernel', () => {
  for (const [tokens, n] of [
    [1, 64],
    [5, 333],
  ] as const) {
    it(`adds in place, exactly, at ${tokens} x ${n}`, async () => {
      const ctx = await testGpu();
      const step = await testStep();
      const maxTokens = tokens + 1;
      const a = randomF32(maxTokens * n, 31 + n);
      const b = randomF32(maxTokens * n, 32 + n);
      const ab = uploadStorage(ctx, a, 'a');
      await run(add(ctx, { step: step.buffer, a: ab, b: uploadStorage(ctx, b, 'b'), n, maxTokens }), { tokens });
      const m = tokens * n;
      const want = new Float32Array(a);
      want.set(addRef(a.subarray(0, m), b.subarray(0, m)));
      // one f32 addition each, the same as the reference's rounding: bit-exact
      expect(compare(await readF32(ctx, ab, maxTokens * n), want).maxAbs).toBe(0);
    });
  }
});
