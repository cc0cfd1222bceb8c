import { describe, expect, it } from 'vitest';
import { gatedAct, siluMul } from '../../src/kernels/silu_mul.js';
import { add } from '../../src/kernels/add.js';
import { addRef, geluTanh, geluTanhMulRef, siluMulRef } from '../../src/reference/elementwise.js';
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

describe('gated activation kernel, gelu_tanh', () => {
  // Same error budget as SiLU: exp() in WGSL may be off by 3 + 2|x| ulp (here |x| <= 2 * 0.8 * (8 + 23)),
  // and the product adds a few roundings.
  const TOL = 1e-5;
  for (const [tokens, n, fused] of [
    [1, 64, false],
    [3, 1000, false],
    [7, 37, false],
    [5, 37, true],
    [2, 129, true],
  ] as const) {
    it(`matches the reference at ${tokens} x ${n}${fused ? ', fused gate|up' : ''}`, async () => {
      const ctx = await testGpu();
      const step = await testStep();
      const maxTokens = tokens + 2;
      const gate = randomF32(maxTokens * n, 121 + n, 8);
      const up = randomF32(maxTokens * n, 122 + n, 2);
      let gb: GPUBuffer;
      let ub: GPUBuffer;
      if (fused) {
        const both = new Float32Array(maxTokens * 2 * n);
        for (let t = 0; t < maxTokens; t++) {
          both.set(gate.subarray(t * n, (t + 1) * n), t * 2 * n);
          both.set(up.subarray(t * n, (t + 1) * n), t * 2 * n + n);
        }
        gb = ub = uploadStorage(ctx, both, 'gate_up');
      } else {
        gb = uploadStorage(ctx, gate, 'gate');
        ub = uploadStorage(ctx, up, 'up');
      }
      const out = uploadStorage(ctx, new Float32Array(maxTokens * n).fill(123), 'out');
      await run(gatedAct(ctx, { step: step.buffer, gate: gb, up: ub, out, n, maxTokens, fused, activation: 'gelu_tanh' }), { tokens });
      const got = await readF32(ctx, out, maxTokens * n);
      const m = tokens * n;
      const want = geluTanhMulRef(gate.subarray(0, m), up.subarray(0, m));
      expect(compare(got.subarray(0, m), want).maxRel).toBeLessThan(TOL);
      // and it is not SiLU
      expect(compare(want, siluMulRef(gate.subarray(0, m), up.subarray(0, m))).maxRel).toBeGreaterThan(1e-2);
      expect(got.subarray(m).every((x) => x === 123)).toBe(true);
    });
  }

  it('is finite with the right limits for large |gate|, and exact to f32 near zero', async () => {
    const ctx = await testGpu();
    const step = await testStep();
    const gate = new Float32Array([-3e38, -1e20, -1e6, -200, -90, -30, -10.5, -10, -9.99, -5, -3, -1, -1e-3, -1e-30, 0, 1e-30, 1e-3, 0.5, 1, 3, 5, 9.99, 10, 10.5, 30, 90, 200, 1e6, 1e20, 3e38]);
    const up = new Float32Array(gate.length).fill(1);
    const out = createStorage(ctx, gate.length * 4, 'out');
    await run(siluMul(ctx, { step: step.buffer, gate: uploadStorage(ctx, gate, 'g'), up: uploadStorage(ctx, up, 'u'), out, n: gate.length, maxTokens: 1, activation: 'gelu_tanh' }), { tokens: 1 });
    const got = await readF32(ctx, out, gate.length);
    expect(got.every(Number.isFinite)).toBe(true);
    for (let i = 0; i < gate.length; i++) {
      const x = gate[i]!;
      const want = Math.fround(geluTanh(x));
      // relative to max(|x|, 1) where the value is near x or near 0; to itself in between
      const err = Math.abs(got[i]! - want);
      expect(err, `gelu_tanh(${x}) = ${got[i]}, want ${want}`).toBeLessThanOrEqual(Math.abs(x) >= 1 ? 2e-6 * Math.abs(x) : 2e-6 * Math.max(Math.abs(want), 1e-30));
    }
    // the large-|x| limits exactly: x for x >= 10, 0 for x <= -10.5
    for (let i = 0; i < gate.length; i++) {
      if (gate[i]! >= 10) expect(got[i]).toBe(gate[i]);
      if (gate[i]! <= -10.5) expect(Math.abs(got[i]!)).toBeLessThan(1e-30);
    }
  });

  it('refuses an unknown activation', async () => {
    const ctx = await testGpu();
    const step = await testStep();
    const b = createStorage(ctx, 256, 'b');
    expect(() => siluMul(ctx, { step: step.buffer, gate: b, up: b, out: b, n: 4, maxTokens: 1, activation: 'gelu' as never })).toThrow(/activation/);
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
