import { describe, expect, it } from 'vitest';
import { rope, ropeInvFreq, type RopeStyle } from '../../src/kernels/rope.js';
import { ropeRef } from '../../src/reference/rope.js';
import { readF32, uploadStorage } from '../../src/gpu/buffers.js';
import { isHearthError } from '../../src/errors.js';
import { run, testGpu, testStep } from '../helpers/gpu.js';
import { compare, randomF32 } from '../helpers/random.js';

/**
 * The kernel rounds the angle pos * invFreq to f32 (as Hugging Face does); the reference keeps
 * it in f64. That rounding is up to half an ulp of the angle, 2^-24 * angle, and moves each
 * output by at most |(a, b)| <= sqrt(2) times that for inputs in [-1, 1]. On top: the f32
 * range reduction, cos/sin and arithmetic, a few 1e-7. So the bound grows with the position:
 * ~2e-6 near position 0, ~3e-5 at position 700.
 */
const ropeTol = (maxPos: number) => Math.SQRT2 * maxPos * 2 ** -24 * 1.05 + 2e-6;

describe('ropeInvFreq', () => {
  it('is theta^(-2i/d) without scaling', () => {
    expect([...ropeInvFreq(8, 10000)]).toEqual([1, 0.1, 0.01, 0.001].map(Math.fround));
  });

  it('divides every frequency by the factor for linear scaling', () => {
    expect([...ropeInvFreq(4, 100, { type: 'linear', factor: 4 })]).toEqual([0.25, 0.025].map(Math.fround));
  });

  it('applies Llama 3 scaling band by band', () => {
    // d = 8, theta = 1e4: f = 1, 0.1, 0.01, 0.001; wavelengths 2pi/f = 6.283, 62.83, 628.3, 6283.
    // Original context 1024, low 1, high 32: keep f where wavelength < 1024/32 = 32,
    // f / 8 where wavelength > 1024/1 = 1024, and between them blend with
    // s = (1024 / wavelength - 1) / (32 - 1), f' = (1 - s) f / 8 + s f:
    //   62.83: s = (16.29747 - 1) / 31 = 0.4934669, f' = 0.1 (0.5065331 / 8 + 0.4934669) = 0.05567833
    //   628.3: s = (1.629747 - 1) / 31 = 0.0203144, f' = 0.01 (0.9796856 / 8 + 0.0203144) = 0.001427751
    const f = ropeInvFreq(8, 10000, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 32, originalMaxPositionEmbeddings: 1024 });
    const want = [1, 0.05567833, 0.001427751, 0.000125];
    want.forEach((w, i) => expect(Math.abs(f[i]! - w) / w).toBeLessThan(1e-6));
  });

  it('leaves high frequencies and slows low ones at Llama 3.1 settings', () => {
    const plain = ropeInvFreq(128, 500000);
    const f = ropeInvFreq(128, 500000, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    expect(f[0]).toBe(plain[0]);
    expect(f[63]).toBe(Math.fround(plain[63]! / 8));
    for (let i = 1; i < 64; i++) expect(f[i]!).toBeLessThan(f[i - 1]!);
  });

  it('rejects an odd rotary dimension', () => {
    let err: unknown;
    try {
      ropeInvFreq(7, 10000);
    } catch (e) {
      err = e;
    }
    expect(isHearthError(err, 'INVALID_ARGUMENT')).toBe(true);
  });
});

describe('rope kernel', () => {
  const cases: [tokens: number, nHeads: number, headDim: number, rotaryDim: number, theta: number, pos: number][] = [
    [1, 3, 8, 8, 10000, 0],
    [5, 2, 8, 4, 10000, 11],
    [7, 3, 64, 64, 10000, 300],
    [3, 5, 64, 32, 1e6, 700],
    [2, 2, 128, 128, 1e6, 513],
    [9, 1, 128, 64, 500000, 37],
  ];
  for (const [tokens, nHeads, headDim, rotaryDim, theta, pos] of cases) {
    for (const style of ['half', 'interleaved'] as RopeStyle[]) {
      it(`${style}: ${tokens} tokens x ${nHeads} heads x ${headDim} (rotary ${rotaryDim}), theta ${theta}, pos ${pos}`, async () => {
        const ctx = await testGpu();
        const step = await testStep();
        const maxTokens = tokens + 2; // rows past step.tokens must stay as they were
        const n = maxTokens * nHeads * headDim;
        const x = randomF32(n, 7 * headDim + tokens + pos);
        const scaling = theta === 500000 ? { type: 'llama3' as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 } : null;
        const invFreq = ropeInvFreq(rotaryDim, theta, scaling);
        const xb = uploadStorage(ctx, x, 'x');
        const d = rope(ctx, { step: step.buffer, x: xb, nHeads, headDim, rotaryDim, invFreq: uploadStorage(ctx, invFreq, 'inv_freq'), style, maxTokens });
        await run(d, { tokens, pos, kvLen: pos + tokens });
        const want = ropeRef(new Float32Array(x), tokens, nHeads, headDim, rotaryDim, invFreq, style, pos);
        const got = await readF32(ctx, xb, n);
        expect(compare(got, want).maxAbs).toBeLessThan(ropeTol(pos + tokens));
        // dims past rotaryDim and rows past step.tokens are copied bit for bit
        let changed = 0;
        for (let r = 0; r < maxTokens * nHeads; r++) {
          const from = r < tokens * nHeads ? rotaryDim : 0;
          for (let i = from; i < headDim; i++) if (got[r * headDim + i] !== x[r * headDim + i]) changed++;
        }
        expect(changed).toBe(0);
      });
    }
  }

  it('keeps cos/sin accurate at long positions (against the same f32 angle)', async () => {
    // Against a reference that rounds the angle to f32 too, what is left is the range reduction
    // (q * PI_2_LO rounds to half an ulp of a value below 2^-11 * angle, ~5e-7 at 6e4 rad) and
    // the series (~1e-7).
    const ctx = await testGpu();
    const step = await testStep();
    const [tokens, nHeads, headDim] = [3, 2, 64];
    for (const pos of [4095, 32768, 60000]) {
      const x = randomF32(tokens * nHeads * headDim, pos);
      const invFreq = ropeInvFreq(headDim, 10000);
      const xb = uploadStorage(ctx, x, 'x');
      const d = rope(ctx, { step: step.buffer, x: xb, nHeads, headDim, rotaryDim: headDim, invFreq: uploadStorage(ctx, invFreq, 'f'), style: 'half', maxTokens: tokens });
      await run(d, { tokens, pos, kvLen: pos + tokens });
      const want = ropeRef(new Float32Array(x), tokens, nHeads, headDim, headDim, invFreq, 'half', pos, true);
      expect(compare(await readF32(ctx, xb), want).maxAbs).toBeLessThan(2e-6);
    }
  });

  it('half and interleaved agree after permuting each head as llama.cpp permutes Q/K weights', async () => {
    // rotate-half pairs (j, j + d/2); interleaved pairs (2j, 2j + 1): moving element j to 2j and
    // j + d/2 to 2j + 1 turns one into the other.
    const ctx = await testGpu();
    const step = await testStep();
    const [tokens, nHeads, headDim] = [4, 2, 16];
    const x = randomF32(tokens * nHeads * headDim, 99);
    const perm = new Float32Array(x.length);
    for (let r = 0; r < tokens * nHeads; r++) {
      for (let j = 0; j < headDim / 2; j++) {
        perm[r * headDim + 2 * j] = x[r * headDim + j]!;
        perm[r * headDim + 2 * j + 1] = x[r * headDim + j + headDim / 2]!;
      }
    }
    const invFreq = uploadStorage(ctx, ropeInvFreq(headDim, 10000), 'inv_freq');
    const xa = uploadStorage(ctx, x, 'xa');
    const xb = uploadStorage(ctx, perm, 'xb');
    const common = { step: step.buffer, nHeads, headDim, rotaryDim: headDim, invFreq, maxTokens: tokens };
    await run([rope(ctx, { ...common, x: xa, style: 'half' }), rope(ctx, { ...common, x: xb, style: 'interleaved' })], { tokens, pos: 5 });
    const a = await readF32(ctx, xa);
    const b = await readF32(ctx, xb);
    for (let r = 0; r < tokens * nHeads; r++) {
      for (let j = 0; j < headDim / 2; j++) {
        expect(b[r * headDim + 2 * j]).toBe(a[r * headDim + j]);
        expect(b[r * headDim + 2 * j + 1]).toBe(a[r * headDim + j + headDim / 2]);
      }
    }
  });

  it('refuses more tokens than it was prepared for', async () => {
    const ctx = await testGpu();
    const step = await testStep();
    const d = rope(ctx, {
      step: step.buffer, x: uploadStorage(ctx, new Float32Array(2 * 8), 'x'), nHeads: 1, headDim: 8, rotaryDim: 8,
      invFreq: uploadStorage(ctx, ropeInvFreq(8, 10000), 'f'), style: 'half', maxTokens: 2,
    });
    await expect(run(d, { tokens: 3 })).rejects.toSatisfy((e) => isHearthError(e, 'INVALID_ARGUMENT'));
  });
});
