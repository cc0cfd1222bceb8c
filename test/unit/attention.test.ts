import { afterAll, describe, expect, it } from 'vitest';
import { attention, attentionPlan, type AttentionArgs } from '../../src/kernels/attention.js';
import { attentionRef, type AttentionShape } from '../../src/reference/attention.js';
import { createStorage, readF32, uploadStorage } from '../../src/gpu/buffers.js';
import { isHearthError } from '../../src/errors.js';
import { createNodeGpuContext } from '../../src/gpu/node.js';
import type { GpuContext } from '../../src/gpu/device.js';
import { StepUniform, destroyDispatches, runDispatches, type Dispatch, type StepParams } from '../../src/gpu/dispatch.js';
import { run, testGpu, testStep } from '../helpers/gpu.js';
import { compare, randomF32 } from '../helpers/random.js';

// f32 throughout (the reference accumulates in f64). The kernels differ from it in summation order and
// in taking the softmax as exp2 of log2-scaled scores; measured errors are around 1e-7 relative.
const TOL = 1e-5;
const MAX_CTX = 301; // not a multiple of any tile or chunk
const MAX_TOKENS = 37;

interface Case extends AttentionShape {
  name: string;
}

const CASES: Case[] = [
  { name: 'MHA, head dim 8', nHeads: 4, nKvHeads: 4, headDim: 8, maxCtx: MAX_CTX },
  { name: 'GQA 3, head dim 64', nHeads: 6, nKvHeads: 2, headDim: 64, maxCtx: MAX_CTX },
  { name: 'GQA 4, head dim 128', nHeads: 8, nKvHeads: 2, headDim: 128, maxCtx: MAX_CTX },
  { name: 'GQA 3, head dim 96', nHeads: 3, nKvHeads: 1, headDim: 96, maxCtx: MAX_CTX },
  { name: 'GQA 2, head dim 256', nHeads: 2, nKvHeads: 1, headDim: 256, maxCtx: MAX_CTX },
  // 18 vec4s over 4 lanes per row: some lanes own fewer columns than others
  { name: 'MHA, head dim 72', nHeads: 2, nKvHeads: 2, headDim: 72, maxCtx: MAX_CTX },
];

/**
 * A cache filled with random values up to kvLen and NaN after it: any read past the causal limit,
 * or any masked value that leaks into the result (even times zero), turns the output into NaN.
 */
function cache(c: AttentionShape, kvLen: number, seed: number): Float32Array {
  const data = randomF32(c.nKvHeads * c.maxCtx * c.headDim, seed);
  for (let g = 0; g < c.nKvHeads; g++) data.fill(NaN, (g * c.maxCtx + kvLen) * c.headDim, (g + 1) * c.maxCtx * c.headDim);
  return data;
}

interface TestDevice {
  ctx: GpuContext;
  step: StepUniform;
  run(d: Dispatch[], s: StepParams): Promise<void>;
}

const withSubgroups = async (): Promise<TestDevice> => ({ ctx: await testGpu(), step: await testStep(), run });

let plain: Promise<TestDevice> | null = null;
/** A second device without 'subgroups', for the workgroup-memory variant of prefill. */
function withoutSubgroups(): Promise<TestDevice> {
  plain ??= (async () => {
    const ctx = await createNodeGpuContext({ disableFeatures: { subgroups: true } });
    const step = new StepUniform(ctx);
    return { ctx, step, run: (d, s) => runDispatches(ctx, d, s, step) };
  })();
  return plain;
}

/** Random Q and caches filled to `kvLen` on the GPU; `launch` prepares attention over them. */
async function setup(c: Case, kvLen: number, device: TestDevice | null = null) {
  const { ctx, step, run } = device ?? (await withSubgroups());
  const width = c.nHeads * c.headDim;
  const k = cache(c, kvLen, 11 + c.headDim);
  const v = cache(c, kvLen, 12 + c.headDim);
  const q = randomF32(MAX_TOKENS * width, 13 + c.headDim, 2); // scale 2 spreads the scores: a peaky softmax
  const gpu = { q: uploadStorage(ctx, q, 'q'), kCache: uploadStorage(ctx, k, 'k'), vCache: uploadStorage(ctx, v, 'v') };
  const out = createStorage(ctx, MAX_TOKENS * width * 4, 'out');
  const launch = (extra: Partial<AttentionArgs> = {}) => {
    const dispatches = attention(ctx, { step: step.buffer, ...gpu, out, ...c, maxTokens: MAX_TOKENS, ...extra });
    /** Run one step and return the worst error relative to the largest reference output. */
    return async (tokens: number, pos: number): Promise<number> => {
      await run(dispatches, { tokens, pos, kvLen: pos + tokens, seed: 0 });
      const want = attentionRef({ ...c, q: q.subarray(0, tokens * width), kCache: k, vCache: v, tokens, pos, scale: extra.scale });
      return compare(await readF32(ctx, out, tokens * width), want).maxRel;
    };
  };
  return launch;
}

describe('attention kernels', () => {
  for (const c of CASES) {
    it(`decode matches the reference (${c.name}), kv_len 1..300, several split counts`, async () => {
      const launch = await setup(c, 300);
      // default (this adapter's), one split (several chunks in it), a few, and the GPU default (many)
      for (const splits of [undefined, 1, 3, 32]) {
        const check = launch({ splits });
        for (const kvLen of [1, 2, 17, 65, 300]) {
          expect(await check(1, kvLen - 1), `kv_len ${kvLen}, splits ${splits ?? 'default'}`).toBeLessThan(TOL);
        }
      }
    });

    // Head dim 256 takes the workgroup-memory path with one row a thread (covered below); 96 adds
    // nothing to 64 and 128 there.
    for (const subgroups of c.headDim === 256 || c.headDim === 96 ? [true] : [true, false]) {
      it(`prefill matches the reference (${c.name}), from pos 0 and continuing a cache, ${subgroups ? 'with' : 'without'} subgroups`, async () => {
        const device = subgroups ? await withSubgroups() : await withoutSubgroups();
        const plan = attentionPlan(c, { subgroups: device.ctx.features.subgroups });
        expect(plan.prefill.subgroups).toBe(subgroups && c.headDim <= 128 && device.ctx.features.subgroups);
        const launch = await setup(c, 300, device);
        // this CPU adapter's default (four rows a thread where subgroups allow), and one row a thread
        // (with subgroups, head size 256: the workgroup-memory kernel)
        for (const prefillRows of subgroups ? [undefined, 1 as const] : [undefined]) {
          const check = launch({ prefillRows });
          for (const [tokens, pos] of [
            [2, 0],
            [37, 0],
            [19, 0],
            [13, 100],
            [37, 263],
            [5, 295],
          ] as const) {
            expect(await check(tokens, pos), `tokens ${tokens} at pos ${pos}, ${prefillRows ?? 'default'} rows a thread`).toBeLessThan(TOL);
          }
        }
      });
    }
  }

  // Sliding window (Gemma 3's local layers): small windows against ragged token counts, so prefill tiles
  // straddle the window's lower edge and decode steps cross it.
  const WINDOW_CASES: Case[] = [
    { name: 'GQA 4, head dim 64', nHeads: 8, nKvHeads: 2, headDim: 64, maxCtx: 131 },
    { name: 'Gemma 3 270M: 4 heads, 1 kv head, head dim 256', nHeads: 4, nKvHeads: 1, headDim: 256, maxCtx: 131 },
    { name: 'MHA, head dim 72', nHeads: 2, nKvHeads: 2, headDim: 72, maxCtx: 131 },
  ];

  /**
   * One step of windowed attention over fresh caches that hold NaN outside the keys the step's queries
   * may see, [first query's window start, kvLen): reading (or leaking) anything outside gives NaN.
   */
  async function windowed(device: TestDevice, c: Case, extra: Partial<AttentionArgs>, tokens: number, pos: number): Promise<number> {
    const { ctx, step } = device;
    const kvLen = pos + tokens;
    const w = extra.window ?? 0;
    const lo = w > 0 ? Math.max(0, pos + 1 - w) : 0;
    const width = c.nHeads * c.headDim;
    const k = cache(c, kvLen, 71 + kvLen);
    const v = cache(c, kvLen, 72 + kvLen);
    for (let g = 0; g < c.nKvHeads; g++) {
      k.fill(NaN, g * c.maxCtx * c.headDim, (g * c.maxCtx + lo) * c.headDim);
      v.fill(NaN, g * c.maxCtx * c.headDim, (g * c.maxCtx + lo) * c.headDim);
    }
    const q = randomF32(tokens * width, 73 + tokens, 2);
    const bufs = { q: uploadStorage(ctx, q, 'q'), kCache: uploadStorage(ctx, k, 'k'), vCache: uploadStorage(ctx, v, 'v'), out: createStorage(ctx, tokens * width * 4, 'out') };
    const dispatches = attention(ctx, { step: step.buffer, ...bufs, ...c, maxTokens: tokens, ...extra });
    try {
      await device.run(dispatches, { tokens, pos, kvLen, seed: 0 });
      const want = attentionRef({ ...c, q, kCache: k, vCache: v, tokens, pos, scale: extra.scale, window: w });
      return compare(await readF32(ctx, bufs.out, tokens * width), want).maxRel;
    } finally {
      destroyDispatches(dispatches);
      for (const b of Object.values(bufs)) b.destroy();
    }
  }

  for (const c of WINDOW_CASES) {
    it(`decode with a sliding window matches the reference (${c.name}), KV lengths crossing the window, several split counts`, async () => {
      const device = await withSubgroups();
      // 70: a window wider than one 64-key split; 200: wider than the cache, the same as none
      for (const [window, kvLens] of [
        [1, [1, 2, 9]],
        [5, [1, 4, 5, 6, 7, 66]],
        [7, [6, 7, 8, 9, 130]],
        [70, [69, 70, 71, 100, 131]],
        [200, [131]],
      ] as const) {
        for (const splits of [undefined, 1, 3, 32]) {
          for (const kvLen of kvLens) {
            expect(await windowed(device, c, { window, splits }, 1, kvLen - 1), `window ${window}, kv_len ${kvLen}, splits ${splits ?? 'default'}`).toBeLessThan(TOL);
          }
        }
      }
    });

    for (const subgroups of c.headDim === 256 ? [true] : [true, false]) {
      it(`prefill with a sliding window matches the reference (${c.name}), tokens beyond the window, ${subgroups ? 'with' : 'without'} subgroups`, async () => {
        const device = subgroups ? await withSubgroups() : await withoutSubgroups();
        for (const [window, tokens, pos] of [
          [1, 19, 0],
          [5, 37, 0],
          [5, 2, 0],
          [5, 13, 3],
          [7, 23, 0],
          [7, 29, 60],
          [40, 37, 0],
          [40, 37, 50],
          [40, 3, 30],
        ] as const) {
          for (const prefillRows of subgroups ? [undefined, 1 as const] : [undefined]) {
            expect(await windowed(device, c, { window, prefillRows }, tokens, pos), `window ${window}, tokens ${tokens} at pos ${pos}, ${prefillRows ?? 'default'} rows a thread`).toBeLessThan(TOL);
          }
        }
      });
    }
  }

  it('honours a non-default softmax scale in every variant (prefill with and without subgroups, decode split or not), with and without a window', async () => {
    // Gemma 3 scales by query_pre_attn_scalar^-0.5, which need not be 1/sqrt(headDim)
    const c: Case = { name: 'GQA 4, head dim 128', nHeads: 8, nKvHeads: 2, headDim: 128, maxCtx: 131 };
    const scale = 168 ** -0.5;
    for (const device of [await withSubgroups(), await withoutSubgroups()]) {
      for (const window of [0, 6]) {
        expect(await windowed(device, c, { scale, window }, 21, 5), `prefill, window ${window}`).toBeLessThan(TOL);
        for (const splits of [1, 3]) {
          expect(await windowed(device, c, { scale, window, splits }, 1, 130), `decode, window ${window}, splits ${splits}`).toBeLessThan(TOL);
        }
      }
    }
    // and the test can tell: at these shapes the default scale gives a clearly different answer
    const q = randomF32(c.nHeads * c.headDim, 5, 2);
    const k = randomF32(c.nKvHeads * c.maxCtx * c.headDim, 6);
    const v = randomF32(c.nKvHeads * c.maxCtx * c.headDim, 7);
    const ref = (s?: number) => attentionRef({ ...c, q, kCache: k, vCache: v, tokens: 1, pos: 40, scale: s });
    expect(compare(ref(scale), ref()).maxRel).toBeGreaterThan(1e-3);
  });

  it('one Dispatch[] serves a prefill chunk, its continuation and the decode steps after it', async () => {
    const check = (await setup(CASES[2]!, 80))({ scale: 0.3 });
    expect(await check(37, 0)).toBeLessThan(TOL);
    expect(await check(30, 37)).toBeLessThan(TOL);
    for (const pos of [67, 68, 79]) expect(await check(1, pos)).toBeLessThan(TOL);
  });

  it('plans tiles within 16 KiB of workgroup memory and GQA blocks that divide the group', () => {
    for (const headDim of [4, 8, 64, 80, 96, 128, 256]) {
      for (const group of [1, 3, 4, 7, 8]) {
        for (const subgroups of [false, true]) {
          const plan = attentionPlan({ nHeads: 4 * group, nKvHeads: 4, headDim, maxCtx: 4096 }, { subgroups });
          const { wg, tpr, bq, nv } = plan.prefill;
          const dv = headDim / 4;
          expect(plan.prefill.rows).toBe(1);
          expect(bq * tpr).toBe(wg);
          expect(nv).toBeLessThanOrEqual(8);
          expect(nv * tpr).toBeGreaterThanOrEqual(dv);
          // subgroup shuffles only within the smallest subgroup WebGPU allows, in workgroups every size divides
          expect(plan.prefill.subgroups).toBe(subgroups && tpr <= 4);
          if (plan.prefill.subgroups) expect(wg % 128).toBe(0);
          expect(plan.prefill.workgroupBytes).toBeLessThanOrEqual(16384);
          expect(plan.decode.workgroupBytes).toBeLessThanOrEqual(16384);
          expect(group % plan.decode.headsPerWorkgroup).toBe(0);
          expect(plan.decode.headsPerWorkgroup * dv).toBeLessThanOrEqual(64);
          expect(plan.decode.splits).toBe(32);
        }
      }
    }
    expect(attentionPlan({ nHeads: 32, nKvHeads: 8, headDim: 64, maxCtx: 100 }).decode.splits).toBe(2);
    expect(attentionPlan({ nHeads: 32, nKvHeads: 8, headDim: 64, maxCtx: 4096 }, { cpu: true }).decode.splits).toBe(4);
    // CPU drivers: the fewest threads that give a head DV (16 here) threads; GPUs: 64
    expect(attentionPlan({ nHeads: 32, nKvHeads: 8, headDim: 64, maxCtx: 4096 }, { cpu: true }).decode.wg).toBe(16);
    expect(attentionPlan({ nHeads: 8, nKvHeads: 4, headDim: 8, maxCtx: 256 }, { cpu: true }).decode).toMatchObject({ wg: 4, headsPerWorkgroup: 2 });
    expect(attentionPlan({ nHeads: 32, nKvHeads: 8, headDim: 64, maxCtx: 4096 }).decode.wg).toBe(64);
    // CPU drivers with subgroups: four query rows a thread where a row's lanes fit a subgroup
    const cpuPrefill = (headDim: number, subgroups: boolean) => attentionPlan({ nHeads: 8, nKvHeads: 2, headDim, maxCtx: 512 }, { cpu: true, subgroups }).prefill;
    expect(cpuPrefill(64, true)).toMatchObject({ wg: 16, tpr: 2, rows: 4, bq: 32 });
    expect(cpuPrefill(8, true)).toMatchObject({ tpr: 1, rows: 4, bq: 64 });
    // head size 256: 16 vec4s a lane over 4 lanes, or, with one row a thread, 8 lanes and workgroup memory
    expect(cpuPrefill(256, true)).toMatchObject({ tpr: 4, nv: 16, rows: 4, subgroups: true });
    expect(attentionPlan({ nHeads: 4, nKvHeads: 1, headDim: 256, maxCtx: 512, prefillRows: 1 }, { cpu: true, subgroups: true }).prefill).toMatchObject({ tpr: 8, nv: 8, rows: 1, subgroups: false });
    expect(cpuPrefill(256, false)).toMatchObject({ tpr: 8, rows: 1 });
    expect(cpuPrefill(64, false).rows).toBe(1);
    expect(() => attentionPlan({ nHeads: 8, nKvHeads: 2, headDim: 64, maxCtx: 512, prefillRows: 4 }, { cpu: true, subgroups: false })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  afterAll(async () => {
    if (plain) (await plain).ctx.destroy();
  });

  it('rejects unsupported head sizes and steps past the cache', async () => {
    const ctx = await testGpu();
    const step = await testStep();
    const buf = createStorage(ctx, 4096, 'b');
    const args: AttentionArgs = { step: step.buffer, q: buf, kCache: buf, vCache: buf, out: buf, nHeads: 2, nKvHeads: 1, headDim: 8, maxCtx: 16, maxTokens: 4 };
    expect(() => attention(ctx, { ...args, headDim: 6 })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_ARCHITECTURE' }));
    expect(() => attention(ctx, { ...args, nKvHeads: 3 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => attention(ctx, { ...args, window: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => attention(ctx, { ...args, window: 2.5 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    const d = attention(ctx, args);
    const err = await run(d, { tokens: 1, pos: 16, kvLen: 17 }).catch((e: unknown) => e);
    expect(isHearthError(err, 'CONTEXT_OVERFLOW')).toBe(true);
  });
});
