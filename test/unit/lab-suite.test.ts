/**
 * The kernel lab's suite runner in Node on Dawn: the small preset passes every check with real
 * timings, the model presets are valid shapes, failures come back as rows, samples are stable.
 */
import { describe, expect, it } from 'vitest';
import { ErrorTally } from '../../src/lab/check.js';
import { validateCase } from '../../src/lab/cases.js';
import { sampleIndices } from '../../src/lab/data.js';
import { MAX_PRESET_HOST_BYTES, MODELS, SMALL_PRESET, WHISPER_MODELS, presetCases } from '../../src/lab/presets.js';
import { adapterReport, buildReport, reportJson } from '../../src/lab/report.js';
import { measureLabRoofline, rooflineFraction } from '../../src/lab/roofline.js';
import { runKernelCase, runSuite } from '../../src/lab/suite.js';
import { LAB_FAMILIES, WHISPER_FAMILIES, type LabRow } from '../../src/lab/types.js';
import { testGpu } from '../helpers/gpu.js';

describe('kernel lab suite', () => {
  it('runs the small preset: every family, every check passes, positive figures', async () => {
    const ctx = await testGpu();
    const { cases, skipped } = presetCases(SMALL_PRESET.id);
    expect(skipped).toEqual([]);
    expect(new Set(cases.map((c) => c.family))).toEqual(new Set(LAB_FAMILIES));
    const progress: number[] = [];
    const rows = await runSuite(ctx, cases, { budgetMs: 10, minIterations: 2, onProgress: (p) => progress.push(p.done) });
    expect(rows).toHaveLength(cases.length);
    expect(progress.at(-1)).toBe(cases.length);
    const failed = rows.filter((r) => !r.pass).map((r) => `${r.family} ${r.variant} ${r.format} ${r.shape}: ${r.error ?? `rel ${r.maxRelErr}`}`);
    expect(failed).toEqual([]);
    for (const r of rows) {
      expect(r.checked, r.shape).toBeGreaterThan(0);
      expect(r.ms).toBeGreaterThan(0);
      expect(r.gbps).toBeGreaterThan(0);
      expect(r.gflops).toBeGreaterThan(0);
      expect(r.intensity).toBeCloseTo(r.flops / r.bytes);
      expect(r.timing).toBe(ctx.features.timestampQuery ? 'timestamp' : 'wallclock');
    }
    // small shapes check every output
    const gemm = rows.find((r) => r.family === 'gemm')!;
    expect(gemm.checked).toBe(gemm.total);
  });

  it('checks a deterministic sample of a large output', async () => {
    const ctx = await testGpu();
    const row = await runKernelCase(ctx, { family: 'gemv', label: 'big', format: 'q4_0', variant: 'register', n: 8192, k: 1024 }, { budgetMs: 5 });
    expect(row.pass).toBe(true);
    expect(row.total).toBe(8192);
    expect(row.checked).toBeLessThan(row.total);
    expect(row.checked).toBeGreaterThan(100);
  });

  it('reports a shape it cannot run as a failed row that says why', async () => {
    const ctx = await testGpu();
    const row = await runKernelCase(ctx, { family: 'gemm', label: 'bad', format: 'q8_0', variant: 'tiled', m: 4, n: 64, k: 100 });
    expect(row.pass).toBe(false);
    expect(row.error).toMatch(/multiple of 32/);
    const heads = await runKernelCase(ctx, { family: 'attention-decode', label: 'bad', nHeads: 5, nKvHeads: 2, headDim: 64, kvLen: 10 });
    expect(heads.error).toMatch(/multiple of KV heads/);
  });

  it('builds valid model presets with every family, skipping only host arrays too large for a tab', () => {
    for (const m of MODELS) {
      const { cases, skipped } = presetCases(m.name);
      for (const c of cases) expect(() => validateCase(c)).not.toThrow();
      expect(new Set(cases.map((c) => c.family))).toEqual(new Set(LAB_FAMILIES.filter((f) => !WHISPER_FAMILIES.includes(f))));
      for (const c of skipped) expect(['gemv', 'embed']).toContain(c.family);
      const gemvs = cases.filter((c) => c.family === 'gemv');
      expect(gemvs.some((c) => c.family === 'gemv' && c.n === m.vocab && c.format === 'q4_0')).toBe(true);
      expect(cases.some((c) => c.family === 'attention-decode' && c.kvLen === 4096 && c.nHeads === m.heads)).toBe(true);
    }
    expect(presetCases('Llama-3.2-1B').skipped.length).toBeGreaterThan(0);
    expect(MAX_PRESET_HOST_BYTES).toBeGreaterThan(128256 * 2048 * 0.5625); // Llama's q4_0 lm_head fits
    const q4 = presetCases('SmolLM2-135M', { families: ['gemv', 'gemm'], formats: ['q4_0'], variants: ['tiled'] }).cases;
    expect(q4.length).toBe(9);
    expect(q4.every((c) => 'format' in c && c.format === 'q4_0')).toBe(true);
  });

  it("builds Whisper presets of Whisper's kernels at its real shapes", () => {
    for (const m of WHISPER_MODELS) {
      const { cases, skipped } = presetCases(m.name);
      expect(skipped).toEqual([]);
      for (const c of cases) expect(() => validateCase(c)).not.toThrow();
      expect(new Set(cases.map((c) => c.family))).toEqual(new Set(WHISPER_FAMILIES));
      expect(cases.some((c) => c.family === 'attention_full' && c.method === 'matmul' && c.tokens === 1500 && c.heads === m.heads)).toBe(true);
      expect(cases.some((c) => c.family === 'conv1d' && c.tIn === 3000 && c.cIn === 80 && c.cOut === m.state)).toBe(true);
    }
  });

  it("refuses Whisper shapes its kernels cannot run, saying why", async () => {
    const ctx = await testGpu();
    const self = await runKernelCase(ctx, { family: 'attention_full', label: 'bad', method: 'matmul', heads: 2, headDim: 32, tokens: 3, kvLen: 10 });
    expect(self.error).toMatch(/queries must equal keys/);
    const past = await runKernelCase(ctx, { family: 'add_rows', label: 'bad', tokens: 4, n: 8, rows: 10, pos: 8 });
    expect(past.error).toMatch(/past the table's 10 rows/);
    const stride = await runKernelCase(ctx, { family: 'conv1d', label: 'bad', variant: 'tiled', tIn: 10, cIn: 4, cOut: 4, stride: 3 });
    expect(stride.error).toMatch(/stride must be 1 or 2/);
  });

  it('samples the same indices every time, ends included', () => {
    const a = sampleIndices(100000, 50, 7);
    expect(a).toEqual(sampleIndices(100000, 50, 7));
    expect(a[0]).toBe(0);
    expect(a.at(-1)).toBe(99999);
    expect(new Set(a).size).toBe(a.length);
    expect([...a].sort((x, y) => x - y)).toEqual(a);
    expect(sampleIndices(5, 50, 1)).toEqual([0, 1, 2, 3, 4]);
  });

  it('fails a check on NaN or an error above tolerance', () => {
    const nan = new ErrorTally(1e-4, 2);
    nan.add([1, NaN], [1, 2]);
    expect(nan.result()).toMatchObject({ pass: false, maxAbsErr: Infinity });
    const off = new ErrorTally(1e-4, 2);
    off.add([1, 2.001], [1, 2]);
    expect(off.result().pass).toBe(false);
    const ok = new ErrorTally(1e-4, 2);
    ok.add([1, 2.0001], [1, 2]);
    expect(ok.result().pass).toBe(true);
  });

  it('measures a positive roofline and exports every row as JSON', async () => {
    const ctx = await testGpu();
    const roofline = await measureLabRoofline(ctx);
    expect(roofline.readGBps).toBeGreaterThan(0);
    expect(roofline.fmaGflops).toBeGreaterThan(0);
    const rows: LabRow[] = [
      await runKernelCase(ctx, { family: 'rmsnorm', label: 'r', rows: 2, cols: 64, residual: false }, { budgetMs: 5 }),
      await runKernelCase(ctx, { family: 'gemv', label: 'bad', format: 'q4_0', variant: 'tiled', n: 8, k: 40 }),
    ];
    expect(rooflineFraction(roofline, rows[0]!)).toBeGreaterThan(0);
    const report = buildReport({ date: new Date().toISOString(), userAgent: 'node', adapter: adapterReport(ctx, null), roofline, settings: {}, rows });
    const parsed = JSON.parse(reportJson(report)) as { rows: { maxAbsErr: number | null; shape: string }[]; adapter: { limits: Record<string, number> } };
    expect(parsed.rows.map((r) => r.shape)).toEqual(['2×64', '8×40']);
    expect(parsed.rows[1]!.maxAbsErr).toBeNull();
    expect(parsed.adapter.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
  });
});
