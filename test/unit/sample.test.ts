import { describe, expect, it } from 'vitest';
import { SAMPLE_WGSL, createSampler, decodeSampleResult, type Sampler, type SamplingParams, type SampleResult } from '../../src/kernels/sample.js';
import { cutoffRef, gumbelRef, logSoftmaxRef, maskLogitsRef, processLogitsRef, sampleRef, samplingProbsRef, topLogprobsRef, uniformRef } from '../../src/reference/sample.js';
import { roundUp, uploadStorage } from '../../src/gpu/buffers.js';
import { encodeDispatches, gridFor } from '../../src/gpu/dispatch.js';
import { isHearthError } from '../../src/errors.js';
import { testGpu, testStep } from '../helpers/gpu.js';
import { randomF32, rng } from '../helpers/random.js';
import { GREEDY_SAMPLING } from '../../src/kernels/sampling.js';

const GREEDY: SamplingParams = { ...GREEDY_SAMPLING };
const plain = (p: Partial<SamplingParams>): SamplingParams => ({ ...GREEDY, temperature: 1, ...p });

// exp/log on the GPU vs f64 here, and sums in another order
const LOGPROB_TOL = 1e-4;

/** The layout picked for SwiftShader, or with `gpu` the one GPUs get (more, smaller chunks; folded search). */
async function makeSampler(logits: Float32Array, maxTopLogprobs?: number, gpu = false): Promise<Sampler> {
  const ctx = await testGpu();
  const step = await testStep();
  const layout = gpu ? { perThread: 4, folded: true } : {};
  return createSampler(ctx, { step: step.buffer, logits: uploadStorage(ctx, logits, 'logits'), vocab: logits.length, maxTopLogprobs, ...layout });
}

/** One submit per seed (the seed lives in the step uniform), results gathered into one buffer, one wait. */
async function sampleSeeds(sampler: Sampler, seeds: number[]): Promise<SampleResult[]> {
  const ctx = await testGpu();
  const step = await testStep();
  const stride = roundUp(sampler.resultBytes!, 4);
  const out = ctx.device.createBuffer({ size: stride * seeds.length, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  for (const [j, seed] of seeds.entries()) {
    const s = { tokens: 1, pos: 0, kvLen: 1, seed };
    step.write(s);
    const enc = ctx.device.createCommandEncoder();
    encodeDispatches(enc, sampler.dispatches, s);
    enc.copyBufferToBuffer(sampler.resultBuffer!, 0, out, j * stride, stride);
    ctx.device.queue.submit([enc.finish()]);
  }
  await out.mapAsync(GPUMapMode.READ);
  const bytes = out.getMappedRange().slice(0);
  out.unmap();
  out.destroy();
  return seeds.map((_, j) => decodeSampleResult(bytes.slice(j * stride, (j + 1) * stride)));
}

/** The engine's path: record, copyResult, submit, readResult. */
async function sampleOnce(sampler: Sampler, seed: number): Promise<SampleResult> {
  const ctx = await testGpu();
  const step = await testStep();
  const s = { tokens: 1, pos: 0, kvLen: 1, seed };
  step.write(s);
  const enc = ctx.device.createCommandEncoder();
  encodeDispatches(enc, sampler.dispatches, s);
  sampler.copyResult(enc);
  ctx.device.queue.submit([enc.finish()]);
  return sampler.readResult();
}

const seedsFrom = (n: number, first = 1): number[] => Array.from({ length: n }, (_, i) => (first + i * 2654435761) >>> 0);
const zeros = (n: number) => new Uint32Array(n);

/** Tokens in [-8, -4] with a few planted values on top: masses known to within a few percent. */
function planted(vocab: number, top: Record<number, number>, seed: number): Float32Array {
  const x = randomF32(vocab, seed, 2).map((v) => v - 6);
  for (const [id, v] of Object.entries(top)) x[Number(id)] = v;
  return x;
}

describe('sample kernel', () => {
  it('compiles', async () => {
    const ctx = await testGpu();
    await ctx.pipelines.validate(SAMPLE_WGSL, 'sample');
  });

  it('the reference RNG: the same seed and index give the same draw, uniform in (0, 1)', () => {
    expect(uniformRef(7, 3)).toBe(uniformRef(7, 3));
    const u = Array.from({ length: 4000 }, (_, i) => uniformRef(12345, i));
    expect(Math.min(...u)).toBeGreaterThan(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(Math.abs(u.reduce((s, v) => s + v, 0) / u.length - 0.5)).toBeLessThan(0.02);
    // Gumbel(0, 1) has mean 0.5772 (Euler-Mascheroni) and variance pi^2 / 6
    const g = Array.from({ length: 4000 }, (_, i) => gumbelRef(99, i));
    const mean = g.reduce((s, v) => s + v, 0) / g.length;
    const variance = g.reduce((s, v) => s + (v - mean) ** 2, 0) / g.length;
    expect(Math.abs(mean - 0.5772)).toBeLessThan(0.06);
    expect(Math.abs(variance - Math.PI ** 2 / 6)).toBeLessThan(0.15);
  });

  for (const vocab of [1, 7, 512, 49152]) {
    it(`greedy argmax at vocab ${vocab}, ties to the lowest id, with logprobs (with top logprobs through the passes, without in one launch)`, async () => {
      const logits = randomF32(vocab, 100 + vocab, 4);
      const a = Math.floor(vocab * 0.7);
      const b = Math.floor(vocab * 0.3);
      logits[a] = 9;
      logits[b] = 9; // a tie: b < a must win (when vocab is 1 they are the same token)
      const sampler = await makeSampler(logits, 5);
      const top = Math.min(5, vocab);
      sampler.setParams({ ...GREEDY, topLogprobs: top });
      const [got] = await sampleSeeds(sampler, [1]);
      const want = sampleRef(logits, zeros(vocab), { ...GREEDY, topLogprobs: top }, 1);
      expect(got!.token).toBe(Math.min(a, b));
      expect(want.token).toBe(Math.min(a, b));
      expect(Math.abs(got!.logprob - want.logprob)).toBeLessThan(LOGPROB_TOL);
      expect(got!.top.map((t) => t.id)).toEqual(want.top.map((t) => t.id));
      // no top logprobs: the one-launch greedy kernel, same token and logprob
      sampler.setParams(GREEDY);
      const active = sampler.dispatches.filter((d) => gridFor(d, { tokens: 1, pos: 0, kvLen: 1 }).every((n) => n > 0));
      expect(active.map((d) => d.label)).toEqual(['sample.greedy']);
      const [fast] = await sampleSeeds(sampler, [1]);
      expect(fast!.token).toBe(Math.min(a, b));
      expect(Math.abs(fast!.logprob - want.logprob)).toBeLessThan(LOGPROB_TOL);
      sampler.destroy();
    });
  }

  it('greedy ignores the seed and copyResult/readResult return the same as the result buffer', async () => {
    const logits = randomF32(3000, 5, 3);
    const sampler = await makeSampler(logits);
    const want = sampleRef(logits, zeros(3000), GREEDY, 0).token;
    for (const seed of [0, 1, 0xffffffff]) expect((await sampleOnce(sampler, seed)).token).toBe(want);
    sampler.destroy();
  });

  it('top-k keeps exactly the k largest (and every tie at the k-th)', async () => {
    const vocab = 3000; // three chunks
    const logits = randomF32(vocab, 17, 3);
    const sampler = await makeSampler(logits);
    const order = Array.from(logits.keys()).sort((x, y) => logits[y]! - logits[x]!);
    const seeds = seedsFrom(24);

    const p = plain({ topK: 7 });
    sampler.setParams(p);
    const allowed = new Set(order.slice(0, 7));
    const got = await sampleSeeds(sampler, seeds);
    for (const [j, r] of got.entries()) {
      expect(allowed.has(r.token)).toBe(true);
      expect(r.token).toBe(sampleRef(logits, zeros(vocab), p, seeds[j]!).token);
    }
    expect(got[0]!.cutoff).toBe(logits[order[6]!]);
    expect(new Set(got.map((r) => r.token)).size).toBeGreaterThan(3);

    // five tokens tied at the top and k = 3: all five stay
    const tied = new Float32Array(logits);
    for (const id of [11, 500, 1024, 2047, 2999]) tied[id] = 8;
    const s2 = await makeSampler(tied);
    s2.setParams(plain({ topK: 3 }));
    const got2 = await sampleSeeds(s2, seeds);
    expect(new Set(got2.map((r) => r.token))).toEqual(new Set([11, 500, 1024, 2047, 2999]));
    expect(got2[0]!.cutoff).toBe(8);
    sampler.destroy();
    s2.destroy();
  });

  it('top-p keeps the smallest top set holding top_p of the probability', async () => {
    // p(A, B, C) ~ 0.45, 0.30, 0.20 and 0.04 over the other 2997: top_p = 0.8 needs A, B and C
    const vocab = 3000;
    const [A, B, C] = [2500, 3, 1500];
    const logits = planted(vocab, { [A]: 5, [B]: 4.6, [C]: 4.2 }, 23);
    const probs = samplingProbsRef(logits, zeros(vocab), plain({}));
    expect(probs[A]! + probs[B]!).toBeLessThan(0.78);
    expect(probs[A]! + probs[B]! + probs[C]!).toBeGreaterThan(0.82);
    const sampler = await makeSampler(logits);
    const p = plain({ topP: 0.8 });
    sampler.setParams(p);
    const seeds = seedsFrom(32, 7);
    const got = await sampleSeeds(sampler, seeds);
    expect(new Set(got.map((r) => r.token))).toEqual(new Set([A, B, C]));
    for (const [j, r] of got.entries()) expect(r.token).toBe(sampleRef(logits, zeros(vocab), p, seeds[j]!).token);
    expect(got[0]!.cutoff).toBe(Math.fround(4.2));

    // top_p = 0 keeps only the most likely token
    sampler.setParams(plain({ topP: 0 }));
    expect(new Set((await sampleSeeds(sampler, seeds.slice(0, 8))).map((r) => r.token))).toEqual(new Set([A]));
    sampler.destroy();
  });

  it('min-p keeps tokens with p >= min_p * p_max', async () => {
    const vocab = 2000;
    const [A, B, C] = [1999, 0, 1000];
    // p_B / p_A = e^-0.5 = 0.61 stays; p_C / p_A = e^-2 = 0.14 goes
    const logits = planted(vocab, { [A]: 5, [B]: 4.5, [C]: 3 }, 29);
    const sampler = await makeSampler(logits);
    sampler.setParams(plain({ minP: 0.3 }));
    const got = await sampleSeeds(sampler, seedsFrom(24, 3));
    expect(new Set(got.map((r) => r.token))).toEqual(new Set([A, B]));
    expect(got[0]!.cutoff).toBe(cutoffRef(processLogitsRef(logits, zeros(vocab), plain({ minP: 0.3 })), plain({ minP: 0.3 })));
    sampler.destroy();
  });

  it('top-k, top-p, min-p and temperature together match the reference, cutoff and ids', async () => {
    const vocab = 5000;
    const logits = randomF32(vocab, 31, 6);
    const sampler = await makeSampler(logits);
    const seeds = seedsFrom(12, 11);
    for (const p of [
      plain({ temperature: 0.7, topK: 50, topP: 0.9, minP: 0.05 }),
      plain({ temperature: 1.3, topK: 400, topP: 0.95 }),
      plain({ temperature: 0.5, topP: 0.6 }),
      plain({ temperature: 2, topK: 1000 }),
    ]) {
      sampler.setParams(p);
      const got = await sampleSeeds(sampler, seeds);
      const z = processLogitsRef(logits, zeros(vocab), p);
      const cut = cutoffRef(z, p);
      expect(got[0]!.cutoff).toBe(cut);
      for (const [j, r] of got.entries()) {
        expect(z[r.token]).toBeGreaterThanOrEqual(cut);
        expect(r.token).toBe(sampleRef(logits, zeros(vocab), p, seeds[j]!).token);
      }
    }
    sampler.destroy();
  });

  it('the GPU layout (1024 tokens per workgroup, folded search) across chunks', async () => {
    const vocab = 2100;
    const logits = randomF32(vocab, 47, 6);
    const sampler = await makeSampler(logits, 20, true);
    const seeds = seedsFrom(3, 13);
    for (const p of [plain({ temperature: 0.7, topK: 30, topP: 0.8, minP: 0.02, topLogprobs: 20 }), { ...GREEDY, presencePenalty: 0.5 }]) {
      sampler.setParams(p);
      sampler.resetCounts();
      const got = await sampleSeeds(sampler, seeds);
      const cut = cutoffRef(processLogitsRef(logits, zeros(vocab), p), p);
      const want = topLogprobsRef(logits, p.topLogprobs);
      for (const [j, r] of got.entries()) {
        expect(r.cutoff).toBe(cut);
        expect(r.top.map((t) => t.id)).toEqual(want.map((t) => t.id));
        if (p.temperature > 0) expect(r.token).toBe(sampleRef(logits, zeros(vocab), p, seeds[j]!).token);
      }
      // greedy with a presence penalty walks down the ranking, one new token a step
      if (p.temperature === 0) expect(new Set(got.map((r) => r.token)).size).toBe(seeds.length);
    }
    sampler.destroy();
  });

  it('plain temperature sampling: frequencies over 300 seeds follow the softmax', async () => {
    const logits = new Float32Array([1.0, 0.5, 0, -0.5, 2.0, -1.0]);
    const sampler = await makeSampler(logits);
    const p = plain({ temperature: 0.8 });
    sampler.setParams(p);
    const seeds = seedsFrom(300, 101);
    const got = await sampleSeeds(sampler, seeds);
    const probs = samplingProbsRef(logits, zeros(6), p);
    const freq = new Array<number>(6).fill(0);
    for (const [j, r] of got.entries()) {
      freq[r.token]! += 1 / seeds.length;
      expect(r.token).toBe(sampleRef(logits, zeros(6), p, seeds[j]!).token);
    }
    // 3.5 standard errors of a frequency at p = 0.5 over 300 draws
    for (let i = 0; i < 6; i++) expect(Math.abs(freq[i]! - probs[i]!)).toBeLessThan(0.1);
    sampler.destroy();
  });

  it('the same seed gives the same token; other seeds others', async () => {
    const logits = randomF32(1000, 37, 2);
    const sampler = await makeSampler(logits);
    sampler.setParams(plain({}));
    const seeds = seedsFrom(20, 5);
    const a = await sampleSeeds(sampler, seeds);
    const b = await sampleSeeds(sampler, seeds);
    expect(b.map((r) => r.token)).toEqual(a.map((r) => r.token));
    expect(new Set(a.map((r) => r.token)).size).toBeGreaterThan(10);
    for (const [j, r] of a.entries()) expect(r.token).toBe(sampleRef(logits, zeros(1000), plain({}), seeds[j]!).token);
    sampler.destroy();
  });

  it('penalties change the argmax as the reference does', async () => {
    const logits = new Float32Array([0, 1, 2, 3, 2.9, -1, -2, 0.5]);
    const neg = new Float32Array([-3, -1, -1.1, -5, -4, -2, -6, -7]);
    const cases: { logits: Float32Array; seen: number[]; p: Partial<SamplingParams>; want: number }[] = [
      { logits, seen: [], p: {}, want: 3 },
      { logits, seen: [3], p: { repetitionPenalty: 1.2 }, want: 4 }, // 3 / 1.2 = 2.5
      { logits, seen: [3, 3], p: { frequencyPenalty: 0.1 }, want: 4 }, // 3 - 0.2
      { logits, seen: [3, 3], p: { frequencyPenalty: 0.04 }, want: 3 }, // 3 - 0.08
      { logits, seen: [3, 3, 3], p: { presencePenalty: 0.2 }, want: 4 }, // once, not per count
      { logits, seen: [3, 3, 3], p: { presencePenalty: 0.05 }, want: 3 },
      { logits: neg, seen: [1], p: { repetitionPenalty: 1.2 }, want: 2 }, // -1 * 1.2 < -1.1
    ];
    for (const c of cases) {
      const sampler = await makeSampler(c.logits);
      const p = { ...GREEDY, ...c.p };
      sampler.setParams(p);
      sampler.resetCounts();
      sampler.addCounts(c.seen);
      const counts = zeros(8);
      for (const id of c.seen) counts[id]!++;
      const want = sampleRef(c.logits, counts, p, 0);
      expect(want.token).toBe(c.want);
      expect((await sampleOnce(sampler, 0)).token).toBe(c.want);
      sampler.destroy();
    }
  });

  it('counts follow the sampled tokens across steps, and resetCounts clears them', async () => {
    const vocab = 1500;
    const logits = randomF32(vocab, 41, 1);
    for (const id of [3, 700, 1100, 1499]) logits[id] = 3 + id / 1000;
    const sampler = await makeSampler(logits);
    for (const p of [
      { ...GREEDY, presencePenalty: 1.5 },
      plain({ temperature: 0.3, repetitionPenalty: 1.5, frequencyPenalty: 0.3 }),
    ]) {
      sampler.setParams(p);
      sampler.resetCounts();
      sampler.addCounts([1499, 1499, 700]);
      const counts = zeros(vocab);
      counts[1499] = 2;
      counts[700] = 1;
      const tokens: number[] = [];
      for (let stepIndex = 0; stepIndex < 6; stepIndex++) {
        const seed = 1000 + stepIndex;
        const want = sampleRef(logits, counts, p, seed);
        const got = await sampleOnce(sampler, seed);
        expect(got.token).toBe(want.token);
        counts[got.token]!++;
        tokens.push(got.token);
      }
      expect(new Set(tokens).size).toBeGreaterThan(2); // the penalties moved it on
      sampler.resetCounts();
      expect((await sampleOnce(sampler, 1000)).token).toBe(sampleRef(logits, zeros(vocab), p, 1000).token);
    }
    sampler.destroy();
  });

  it('top logprobs follow the raw log-softmax, best first, ties to the lower id', async () => {
    const vocab = 3000;
    const logits = randomF32(vocab, 43, 5);
    for (const id of [2999, 40, 1030]) logits[id] = 7; // tied at the top
    for (const n of [20, 5, 1]) {
      const sampler = await makeSampler(logits, 20);
      const p = plain({ temperature: 0.9, topK: 40, topLogprobs: n });
      sampler.setParams(p);
      const [got] = await sampleSeeds(sampler, [77]);
      const want = topLogprobsRef(logits, n);
      expect(got!.top.map((t) => t.id)).toEqual(want.map((t) => t.id));
      for (let r = 0; r < n; r++) expect(Math.abs(got!.top[r]!.logprob - want[r]!.logprob)).toBeLessThan(LOGPROB_TOL);
      expect(got!.top.slice(0, 3).map((t) => t.id)).toEqual([40, 1030, 2999].slice(0, n));
      expect(Math.abs(got!.logprob - logSoftmaxRef(logits)[got!.token]!)).toBeLessThan(LOGPROB_TOL);
      sampler.destroy();
    }
    // fewer tokens than asked: all of them
    const small = new Float32Array([0.5, -1, 2, 2, 0]);
    const s2 = await makeSampler(small);
    s2.setParams({ ...GREEDY, topLogprobs: 20 });
    const [r2] = await sampleSeeds(s2, [1]);
    expect(r2!.top.map((t) => t.id)).toEqual([2, 3, 0, 4, 1]);
    s2.destroy();
  });

  it('rejects bad parameters with INVALID_ARGUMENT', async () => {
    const sampler = await makeSampler(new Float32Array(10), 5);
    for (const bad of [{ temperature: -1 }, { topK: 1.5 }, { topP: 1.5 }, { minP: -0.1 }, { repetitionPenalty: 0 }, { topLogprobs: 6 }]) {
      expect(() => sampler.setParams({ ...GREEDY, ...bad })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    expect(() => sampler.addCounts([10])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    const ctx = await testGpu();
    try {
      createSampler(ctx, { step: (await testStep()).buffer, logits: sampler.resultBuffer!, vocab: 0 });
      expect.unreachable();
    } catch (e) {
      expect(isHearthError(e, 'INVALID_ARGUMENT')).toBe(true);
    }
    sampler.destroy();
  });

  it('a token mask (constrained decoding) rules tokens out before every sampling mode; logprobs over the allowed ones', async () => {
    for (const [vocab, gpu] of [[3001, false], [2085, true]] as const) {
      const logits = randomF32(vocab, 71 + vocab, 5);
      const r = rng(vocab);
      const mask = new Uint32Array(Math.ceil(vocab / 32));
      const allow = (i: number) => (mask[i >>> 5]! |= 1 << (i & 31));
      for (let i = 0; i < vocab; i++) if (r() < 0.05) allow(i);
      allow(vocab - 1); // the ragged last word
      let best = 0;
      for (let i = 1; i < vocab; i++) if (logits[i]! > logits[best]!) best = i;
      mask[best >>> 5]! &= ~(1 << (best & 31)); // the unmasked argmax is ruled out
      const masked = maskLogitsRef(logits, mask);
      const counts = Uint32Array.from({ length: vocab }, (_, i) => (i % 7 === 0 ? 2 : 0));
      const sampler = await makeSampler(logits, 5, gpu);
      sampler.setMask(mask);
      const seeds = seedsFrom(6, 5);
      for (const p of [
        { ...GREEDY, topLogprobs: 5 },
        plain({ temperature: 0.8, topLogprobs: 3 }),
        plain({ temperature: 1.2, topK: 20, topP: 0.9, minP: 0.02 }),
        plain({ temperature: 0.7, topK: 5000 }), // k past the allowed count
      ]) {
        sampler.setParams(p);
        const got = await sampleSeeds(sampler, seeds);
        for (const [j, g] of got.entries()) {
          const want = sampleRef(masked, zeros(vocab), p, seeds[j]!);
          expect(g.token).toBe(want.token);
          expect((mask[g.token >>> 5]! >>> (g.token & 31)) & 1).toBe(1);
          expect(Math.abs(g.logprob - logSoftmaxRef(masked)[g.token]!)).toBeLessThan(LOGPROB_TOL);
          expect(g.top.map((t) => t.id)).toEqual(topLogprobsRef(masked, p.topLogprobs).map((t) => t.id));
        }
      }
      // penalties act on the allowed tokens only
      const pen = plain({ temperature: 0.9, repetitionPenalty: 1.3, frequencyPenalty: 0.5, presencePenalty: 0.2 });
      sampler.setParams(pen);
      sampler.resetCounts();
      sampler.addCounts(Array.from(counts.entries()).flatMap(([i, n]) => Array<number>(n).fill(i)));
      const [pg] = await sampleSeeds(sampler, [9]);
      expect(pg!.token).toBe(sampleRef(masked, counts, pen, 9).token);
      // one allowed token: it, with logprob 0; then no mask: the plain argmax again
      sampler.setParams(GREEDY);
      const only = new Uint32Array(mask.length);
      only[3] = 1 << 4;
      sampler.setMask(only);
      const [o] = await sampleSeeds(sampler, [1]);
      expect(o!.token).toBe(3 * 32 + 4);
      expect(Math.abs(o!.logprob)).toBeLessThan(LOGPROB_TOL);
      sampler.setMask(null);
      sampler.resetCounts();
      expect((await sampleSeeds(sampler, [1]))[0]!.token).toBe(best);
      expect(() => sampler.setMask(new Uint32Array(2))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      sampler.destroy();
    }
  });

  it('random draws with many seeds: GPU and reference agree on a larger, skewed vocabulary', async () => {
    const vocab = 20000;
    const r = rng(53);
    const logits = Float32Array.from({ length: vocab }, () => -Math.log(-Math.log(r() * 0.999 + 0.0005)) * 2);
    const sampler = await makeSampler(logits);
    const p = plain({ temperature: 0.8, topK: 200, topP: 0.9 });
    sampler.setParams(p);
    const seeds = seedsFrom(12, 2);
    const got = await sampleSeeds(sampler, seeds);
    for (const [j, g] of got.entries()) expect(g.token).toBe(sampleRef(logits, zeros(vocab), p, seeds[j]!).token);
    sampler.destroy();
  });
});
