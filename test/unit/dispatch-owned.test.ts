/**
 * A kernel's dispatches own the buffers they made for themselves (parameters, scratch):
 * destroyDispatches frees exactly those, never the buffers the caller passed in. Without it a
 * lab run or a model load left its uniforms behind on a long-lived device.
 */
import { describe, expect, it } from 'vitest';
import { add } from '../../src/kernels/add.js';
import { rmsNorm } from '../../src/kernels/rmsnorm.js';
import { attention } from '../../src/kernels/attention.js';
import { matmul } from '../../src/kernels/matmul.js';
import { uploadWeight } from '../../src/gpu/weights.js';
import { quantize } from '../../src/quant/formats.js';
import { createStorage, readF32, uploadStorage } from '../../src/gpu/buffers.js';
import { destroyDispatches, type Dispatch } from '../../src/gpu/dispatch.js';
import { run, testGpu, testStep } from '../helpers/gpu.js';
import { randomF32 } from '../helpers/random.js';

/** Runs `ds` inside an error scope and returns the validation error message, if any. */
async function validationError(ds: Dispatch[], step = {}): Promise<string | null> {
  const ctx = await testGpu();
  ctx.device.pushErrorScope('validation');
  await run(ds, step).catch(() => undefined);
  const e = await ctx.device.popErrorScope();
  return e ? e.message : null;
}

describe('destroyDispatches', () => {
  it('frees what each kernel made for itself and leaves the caller\'s buffers alone', async () => {
    const ctx = await testGpu();
    const step = (await testStep()).buffer;
    const x = uploadStorage(ctx, randomF32(64, 1), 'x');
    const y = uploadStorage(ctx, randomF32(64, 2), 'y');
    const w = uploadStorage(ctx, randomF32(64, 3), 'w');
    const out = createStorage(ctx, 64 * 4, 'out');
    const weight = uploadWeight(ctx, 'q8_0', 16, 64, quantize('q8_0', randomF32(16 * 64, 4)));
    const q = uploadStorage(ctx, randomF32(2 * 16, 5), 'q');
    const kc = uploadStorage(ctx, randomF32(4 * 16, 6), 'k');
    const vc = uploadStorage(ctx, randomF32(4 * 16, 7), 'v');
    const ao = createStorage(ctx, 2 * 16 * 4, 'attn_out');
    const given = [step, x, y, w, out, q, kc, vc, ao, ...weight.parts.map((p) => p.data), ...weight.parts.flatMap((p) => (p.scales ? [p.scales] : []))];

    const kernels: Dispatch[][] = [
      [add(ctx, { step, a: x, b: y, n: 64, maxTokens: 1 })],
      [rmsNorm(ctx, { step, x, weight: w, out, cols: 64, eps: 1e-5 })],
      matmul(ctx, { step, x, w: weight, y: out, maxTokens: 1 }),
      attention(ctx, { step, q, kCache: kc, vCache: vc, out: ao, nHeads: 2, nKvHeads: 1, headDim: 16, maxCtx: 4, maxTokens: 1 }),
    ];
    const ds = kernels.flat();
    const owned = ds.flatMap((d) => d.owned ?? []);
    // every kernel made at least its parameters; attention also its scratch (none was given)
    for (const k of kernels) expect(k.flatMap((d) => d.owned ?? []).length, k[0]!.label).toBeGreaterThan(0);
    expect(owned.some((b) => b.label.includes('scratch'))).toBe(true);
    for (const b of given) expect(owned).not.toContain(b);

    expect(await validationError(ds, { tokens: 1, pos: 0, kvLen: 1 })).toBeNull();
    destroyDispatches(ds);
    // the dispatches are unusable now...
    expect(await validationError(ds, { tokens: 1, pos: 0, kvLen: 1 })).toMatch(/destroyed/i);
    // ...and what the caller passed in still works
    expect((await readF32(ctx, out, 64)).length).toBe(64);
    expect((await readF32(ctx, ao, 32)).length).toBe(32);
  });
});
