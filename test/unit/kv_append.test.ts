import { describe, expect, it } from 'vitest';
import { kvAppend } from '../../src/kernels/kv_append.js';
import { ropeInvFreq, type RopeStyle } from '../../src/kernels/rope.js';
import { kvAppendRef } from '../../src/reference/kvcache.js';
import { readF32, uploadStorage, writeBuffer } from '../../src/gpu/buffers.js';
import { isHearthError } from '../../src/errors.js';
import { run, testGpu, testStep } from '../helpers/gpu.js';
import { compare, randomF32 } from '../helpers/random.js';

// Without RoPE the append is a copy: bit-exact. With it, K carries RoPE's error against the f64
// reference (see rope.test.ts): the f32 angle's rounding, sqrt(2) * 2^-24 * position, plus ~2e-6.
const ropeTol = (maxPos: number) => Math.SQRT2 * maxPos * 2 ** -24 * 1.05 + 2e-6;

type RopeCase = { rotaryDim: number; style: RopeStyle } | null;

describe('kv append kernel', () => {
  const cases: [tokens: number, nKvHeads: number, headDim: number, maxCtx: number, pos: number, rope: RopeCase][] = [
    [1, 2, 8, 16, 0, null],
    [5, 3, 8, 16, 7, null],
    [4, 2, 64, 40, 0, { rotaryDim: 64, style: 'half' }],
    [1, 2, 64, 40, 33, { rotaryDim: 64, style: 'interleaved' }],
    [6, 1, 128, 300, 250, { rotaryDim: 128, style: 'half' }],
    [3, 3, 64, 20, 17, { rotaryDim: 32, style: 'half' }],
    [7, 2, 64, 20, 5, { rotaryDim: 32, style: 'interleaved' }],
  ];
  for (const [tokens, nKvHeads, headDim, maxCtx, pos, rope] of cases) {
    const name = rope ? `rope ${rope.style} (rotary ${rope.rotaryDim})` : 'no rope';
    it(`${tokens} tokens x ${nKvHeads} kv heads x ${headDim} into ${maxCtx} at pos ${pos}, ${name}`, async () => {
      const ctx = await testGpu();
      const step = await testStep();
      const maxTokens = tokens + 1;
      const rowFloats = nKvHeads * headDim;
      const k = randomF32(maxTokens * rowFloats, 11 + tokens + pos);
      const v = randomF32(maxTokens * rowFloats, 12 + tokens + pos);
      // caches start full of other data, which must survive outside the written positions
      const kCache = randomF32(nKvHeads * maxCtx * headDim, 13 + pos);
      const vCache = randomF32(nKvHeads * maxCtx * headDim, 14 + pos);
      const invFreq = rope ? ropeInvFreq(rope.rotaryDim, 10000) : null;
      const kc = uploadStorage(ctx, kCache, 'k_cache');
      const vc = uploadStorage(ctx, vCache, 'v_cache');
      const d = kvAppend(ctx, {
        step: step.buffer, k: uploadStorage(ctx, k, 'k'), v: uploadStorage(ctx, v, 'v'), kCache: kc, vCache: vc,
        nKvHeads, headDim, maxCtx, maxTokens,
        rope: rope ? { invFreq: uploadStorage(ctx, invFreq!, 'inv_freq'), rotaryDim: rope.rotaryDim, style: rope.style } : undefined,
      });
      await run(d, { tokens, pos, kvLen: pos + tokens });
      const wantK = new Float32Array(kCache);
      const wantV = new Float32Array(vCache);
      kvAppendRef(wantK, wantV, k, v, tokens, nKvHeads, headDim, maxCtx, pos, rope ? { ...rope, invFreq: invFreq! } : undefined);
      const gotK = await readF32(ctx, kc);
      const gotV = await readF32(ctx, vc);
      expect(compare(gotV, wantV).maxAbs).toBe(0);
      if (!rope) {
        expect(compare(gotK, wantK).maxAbs).toBe(0);
        return;
      }
      expect(compare(gotK, wantK).maxAbs).toBeLessThan(ropeTol(pos + tokens));
      // exact wherever nothing is rotated: other positions, and dims past rotaryDim
      let changed = 0;
      for (let h = 0; h < nKvHeads; h++) {
        for (let p = 0; p < maxCtx; p++) {
          const written = p >= pos && p < pos + tokens;
          const base = (h * maxCtx + p) * headDim;
          for (let i = written ? rope.rotaryDim : 0; i < headDim; i++) if (gotK[base + i] !== wantK[base + i]) changed++;
        }
      }
      expect(changed).toBe(0);
    });
  }

  it('fills the cache over a prefill chunk and then decode steps, as the engine drives it', async () => {
    const ctx = await testGpu();
    const step = await testStep();
    const [nKvHeads, headDim, maxCtx, maxTokens] = [2, 16, 12, 5];
    const rope = { rotaryDim: 16, style: 'interleaved' as const, invFreq: ropeInvFreq(16, 1e6) };
    const k = uploadStorage(ctx, new Float32Array(maxTokens * nKvHeads * headDim), 'k');
    const v = uploadStorage(ctx, new Float32Array(maxTokens * nKvHeads * headDim), 'v');
    const kc = uploadStorage(ctx, new Float32Array(nKvHeads * maxCtx * headDim), 'k_cache');
    const vc = uploadStorage(ctx, new Float32Array(nKvHeads * maxCtx * headDim), 'v_cache');
    // one prepared dispatch, reused for every step
    const d = kvAppend(ctx, { step: step.buffer, k, v, kCache: kc, vCache: vc, nKvHeads, headDim, maxCtx, maxTokens, rope: { ...rope, invFreq: uploadStorage(ctx, rope.invFreq, 'f') } });
    const wantK = new Float32Array(nKvHeads * maxCtx * headDim);
    const wantV = new Float32Array(nKvHeads * maxCtx * headDim);
    let pos = 0;
    for (const tokens of [5, 1, 1, 3, 1]) {
      const kd = randomF32(tokens * nKvHeads * headDim, 100 + pos);
      const vd = randomF32(tokens * nKvHeads * headDim, 200 + pos);
      writeBuffer(ctx, k, 0, kd);
      writeBuffer(ctx, v, 0, vd);
      await run(d, { tokens, pos, kvLen: pos + tokens });
      kvAppendRef(wantK, wantV, kd, vd, tokens, nKvHeads, headDim, maxCtx, pos, rope);
      pos += tokens;
    }
    expect(compare(await readF32(ctx, vc), wantV).maxAbs).toBe(0);
    expect(compare(await readF32(ctx, kc), wantK).maxAbs).toBeLessThan(ropeTol(maxCtx));
  });

  it('reports context overflow instead of writing past the cache', async () => {
    const ctx = await testGpu();
    const step = await testStep();
    const buf = () => uploadStorage(ctx, new Float32Array(2 * 8 * 4), 'b');
    const d = kvAppend(ctx, { step: step.buffer, k: buf(), v: buf(), kCache: buf(), vCache: buf(), nKvHeads: 2, headDim: 4, maxCtx: 8, maxTokens: 4 });
    await expect(run(d, { tokens: 2, pos: 7 })).rejects.toSatisfy((e) => isHearthError(e, 'CONTEXT_OVERFLOW'));
  });
});
