import { describe, expect, it } from 'vitest';
import { fmaChains, measureRoofline, readSum, readSumThreads } from '../../src/kernels/roofline.js';
import { createStorage, readF32, uploadStorage } from '../../src/gpu/buffers.js';
import { runDispatches } from '../../src/gpu/dispatch.js';
import { testGpu } from '../helpers/gpu.js';
import { randomF32 } from '../helpers/random.js';

const STEP = { tokens: 1, pos: 0, kvLen: 1 };

describe('roofline microbenchmarks', () => {
  it('read_sum adds up every vec4 of the buffer, ragged lengths included', async () => {
    const ctx = await testGpu();
    for (const [n4, spans] of [[1, false], [1000, true], [70_001, false], [70_001, true], [300_007, false], [300_007, true]] as const) {
      const data = randomF32(n4 * 4, n4);
      const threads = readSumThreads(n4, spans);
      const out = createStorage(ctx, threads * 4, 'partials');
      await runDispatches(ctx, [readSum(ctx, uploadStorage(ctx, data, 'src'), n4, out, 'read', spans)], STEP);
      const got = (await readF32(ctx, out, threads)).reduce((s, v) => s + v, 0);
      let want = 0;
      let mag = 0;
      for (const v of data) {
        want += v;
        mag += Math.abs(v);
      }
      // f32 partial sums of up to 1.2M values: error well below 1e-6 of the sum of magnitudes
      expect(Math.abs(got - want) / mag, `n4=${n4} spans=${spans}`).toBeLessThan(1e-6);
    }
  });

  it('fma_chains computes its 32 chains per thread', async () => {
    const ctx = await testGpu();
    const threads = 512;
    const iters = 100;
    const out = createStorage(ctx, threads * 4, 'out');
    await runDispatches(ctx, [fmaChains(ctx, threads, iters, out)], STEP);
    const got = await readF32(ctx, out, threads);
    for (const t of [0, 1, 257, 511]) {
      let want = 0;
      for (let chain = 0; chain < 8; chain++) {
        for (let lane = 0; lane < 4; lane++) {
          let v = t * 1e-7 + lane * 0.1 + chain * 0.01;
          for (let i = 0; i < iters; i++) v = v * Math.fround(0.999) + Math.fround(0.001);
          want += v;
        }
      }
      // f32 chains of 100 contracting steps (fused or not) against f64
      expect(Math.abs(got[t]! - want) / want, `thread ${t}`).toBeLessThan(1e-5);
    }
  });

  it('measures positive bandwidth and FMA throughput at small sizes', async () => {
    const ctx = await testGpu();
    const r = await measureRoofline(ctx, { readBytes: 4 << 20, fmaThreads: 4096, fmaIters: 256, iters: 2 });
    expect(r.readGBps).toBeGreaterThan(0);
    expect(r.fmaGflops).toBeGreaterThan(0);
    expect(Number.isFinite(r.readGBps) && Number.isFinite(r.fmaGflops)).toBe(true);
    expect(r.timing).toBe(ctx.features.timestampQuery ? 'timestamp' : 'wallclock');
  });
});
