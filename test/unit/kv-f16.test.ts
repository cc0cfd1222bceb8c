/**
 * The f16 KV cache (kvCache: 'f16', two halves per u32) against the CPU reference: the KV append
 * (copy and both RoPE conventions), the Q|K|V GEMV's epilogue writing f16 caches, attention
 * (prefill and decode) reading them, KvCache's f32 interface (read/write round trip), and a whole
 * model: stories260K's known greedy ids, and a reply continued from exported and imported K/V.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvAppend } from '../../src/kernels/kv_append.js';
import { attention } from '../../src/kernels/attention.js';
import { matmul } from '../../src/kernels/matmul.js';
import { ropeInvFreq, type RopeStyle } from '../../src/kernels/rope.js';
import { kvAppendRef } from '../../src/reference/kvcache.js';
import { attentionRef } from '../../src/reference/attention.js';
import { matmulRef } from '../../src/reference/matmul.js';
import { ropeRef } from '../../src/reference/rope.js';
import { createStorage, readBuffer, readF32, uploadStorage } from '../../src/gpu/buffers.js';
import { uploadWeight, destroyWeight } from '../../src/gpu/weights.js';
import { KvCache } from '../../src/models/state.js';
import { f16BitsToF32, f32ToF16Bits, roundF16 } from '../../src/util/f16.js';
import { resolveModelSource } from '../../src/hub/resolve.js';
import type { Engine } from '../../src/engine/engine.js';
import type { ModelConfig } from '../../src/formats/config.js';
import { run, testGpu, testStep } from '../helpers/gpu.js';
import { compare, randomF32 } from '../helpers/random.js';
import { engineFor } from '../helpers/models.js';
import { kvFormatContinuationTests } from '../helpers/kv-format-model.js';
import { KNOWN_IDS, STORIES } from '../helpers/stories.js';

const uploadF16 = (ctx: Awaited<ReturnType<typeof testGpu>>, x: Float32Array, label: string) => uploadStorage(ctx, Uint16Array.from(x, f32ToF16Bits), label);
const readF16 = async (ctx: Awaited<ReturnType<typeof testGpu>>, b: GPUBuffer): Promise<Float32Array> => Float32Array.from(new Uint16Array(await readBuffer(ctx, b)), f16BitsToF32);
/** One f16 rounding of values up to ~4 (2^-11 relative), plus RoPE's f32 error. */
const F16_TOL = 4 * 2 ** -11 + 1e-5;

describe('f16 KV cache', () => {
  const cases: [tokens: number, nKvHeads: number, headDim: number, maxCtx: number, pos: number, rope: { rotaryDim: number; style: RopeStyle } | null][] = [
    [3, 2, 8, 16, 5, null],
    [4, 2, 32, 20, 9, { rotaryDim: 32, style: 'half' }],
    [2, 3, 24, 12, 3, { rotaryDim: 16, style: 'interleaved' }],
    [5, 1, 40, 12, 0, { rotaryDim: 24, style: 'half' }],
  ];
  for (const [tokens, nKvHeads, headDim, maxCtx, pos, rope] of cases) {
    it(`kv_append: ${tokens} tokens x ${nKvHeads} kv heads x ${headDim} at pos ${pos}, ${rope ? `rope ${rope.style} (rotary ${rope.rotaryDim})` : 'no rope'}`, async () => {
      const ctx = await testGpu();
      const step = await testStep();
      const rowFloats = nKvHeads * headDim;
      const k = randomF32(tokens * rowFloats, 31 + pos);
      const v = randomF32(tokens * rowFloats, 32 + pos);
      const kCache = randomF32(nKvHeads * maxCtx * headDim, 33).map(roundF16);
      const vCache = randomF32(nKvHeads * maxCtx * headDim, 34).map(roundF16);
      const invFreq = rope ? ropeInvFreq(rope.rotaryDim, 10000) : null;
      const kc = uploadF16(ctx, kCache, 'k_cache');
      const vc = uploadF16(ctx, vCache, 'v_cache');
      await run(
        kvAppend(ctx, {
          step: step.buffer, k: uploadStorage(ctx, k, 'k'), v: uploadStorage(ctx, v, 'v'), kCache: kc, vCache: vc, kvFormat: 'f16',
          nKvHeads, headDim, maxCtx, maxTokens: tokens,
          rope: rope ? { invFreq: uploadStorage(ctx, invFreq!, 'inv_freq'), rotaryDim: rope.rotaryDim, style: rope.style } : undefined,
        }),
        { tokens, pos, kvLen: pos + tokens },
      );
      const wantK = new Float32Array(kCache);
      const wantV = new Float32Array(vCache);
      kvAppendRef(wantK, wantV, k, v, tokens, nKvHeads, headDim, maxCtx, pos, rope ? { ...rope, invFreq: invFreq! } : undefined);
      // V is a copy: exactly its f16 rounding; positions not written keep their values
      expect(compare(await readF16(ctx, vc), wantV.map(roundF16)).maxAbs).toBe(0);
      expect(compare(await readF16(ctx, kc), wantK).maxAbs).toBeLessThan(F16_TOL);
    });
  }

  it('the Q|K|V GEMV epilogue writes f16 caches (both pair conventions)', async () => {
    const ctx = await testGpu();
    const step = await testStep();
    for (const style of ['interleaved', 'half'] as const) {
      const [heads, kvHeads, headDim, k, maxCtx, pos] = [2, 1, 16, 40, 8, 5];
      const qDim = heads * headDim;
      const kvDim = kvHeads * headDim;
      const n = qDim + 2 * kvDim;
      const wd = randomF32(n * k, 41);
      const w = uploadWeight(ctx, 'f32', n, k, new Uint8Array(wd.buffer));
      const x = randomF32(k, 42);
      const invF = ropeInvFreq(headDim, 10000);
      const qkv = matmulRef(x, wd, 1, n, k);
      const kc = createStorage(ctx, kvDim * maxCtx * 2, 'k');
      const vc = createStorage(ctx, kvDim * maxCtx * 2, 'v');
      const y = createStorage(ctx, 256 * 4, 'qkv');
      const sections = [{ width: qDim, offset: 0 }, { width: kvDim, offset: 64 }, { width: kvDim, offset: 128 }];
      const ropeKv = { invFreq: uploadStorage(ctx, invF, 'inv_freq'), rotaryDim: headDim, style, headDim, kCache: kc, vCache: vc, maxCtx, kvFormat: 'f16' as const };
      await run(matmul(ctx, { step: step.buffer, x: uploadStorage(ctx, x, 'x'), w, y, maxTokens: 1, sections, fusion: { ropeKv } }), { tokens: 1, pos, kvLen: pos + 1 });
      const kWant = new Float32Array(kvDim * maxCtx);
      const vWant = new Float32Array(kvDim * maxCtx);
      kvAppendRef(kWant, vWant, qkv.slice(qDim, qDim + kvDim), qkv.slice(qDim + kvDim), 1, kvHeads, headDim, maxCtx, pos, { invFreq: invF, rotaryDim: headDim, style });
      expect(compare(await readF16(ctx, kc), kWant).maxAbs, style).toBeLessThan(F16_TOL * 8);
      expect(compare(await readF16(ctx, vc), vWant).maxAbs, style).toBeLessThan(F16_TOL * 8);
      const q = ropeRef(qkv.slice(0, qDim), 1, heads, headDim, headDim, invF, style, pos, true);
      expect(compare(await readF32(ctx, y, qDim), q).maxRel, style).toBeLessThan(1e-5);
      destroyWeight(w);
    }
  });

  it('attention reads f16 caches, prefill and decode, as the reference over the same (rounded) K and V', async () => {
    const ctx = await testGpu();
    const step = await testStep();
    const c = { nHeads: 4, nKvHeads: 2, headDim: 20, maxCtx: 48 };
    for (const [tokens, pos] of [[5, 7], [1, 30]] as const) {
      const kv = c.nKvHeads * c.maxCtx * c.headDim;
      const k = randomF32(kv, 51 + pos, 2).map(roundF16);
      const v = randomF32(kv, 52 + pos).map(roundF16);
      const q = randomF32(tokens * c.nHeads * c.headDim, 53 + pos, 2);
      const out = createStorage(ctx, tokens * c.nHeads * c.headDim * 4, 'out');
      const ds = attention(ctx, { ...c, step: step.buffer, q: uploadStorage(ctx, q, 'q'), kCache: uploadF16(ctx, k, 'k'), vCache: uploadF16(ctx, v, 'v'), kvFormat: 'f16', out, maxTokens: tokens });
      await run(ds, { tokens, pos, kvLen: pos + tokens });
      const want = attentionRef({ ...c, q, kCache: k, vCache: v, tokens, pos });
      expect(compare(await readF32(ctx, out, want.length), want).maxRel, `${tokens} tokens at ${pos}`).toBeLessThan(1e-4);
    }
  });

  it('KvCache keeps half the bytes and moves positions in and out as f32 (rounded to f16)', async () => {
    const ctx = await testGpu();
    const config = { numKvHeads: 2, headDim: 8, numLayers: 2 } as ModelConfig;
    const f32 = new KvCache(ctx, config, 10);
    const f16 = new KvCache(ctx, config, 10, 'f16');
    expect(f16.bytes * 2).toBe(f32.bytes);
    const per = f16.floatsFor(3);
    const layers = [0, 1].map((l) => ({ k: randomF32(per, 60 + l), v: randomF32(per, 70 + l) }));
    f16.write(4, 3, layers);
    const back = await f16.read(4, 7);
    for (const [l, { k, v }] of layers.entries()) {
      expect(compare(back[l]!.k, k.map(roundF16)).maxAbs).toBe(0);
      expect(compare(back[l]!.v, v.map(roundF16)).maxAbs).toBe(0);
    }
    f32.destroy();
    f16.destroy();
  });
});

describe('stories260K with an f16 KV cache', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(await resolveModelSource(STORIES), 128, { kvCache: 'f16' });
  });
  afterAll(async () => engine?.unload());

  it('greedy from BOS gives the 48 known ids; the cache takes half the bytes', async () => {
    const r = await engine.generate({ promptIds: [1], maxTokens: 48, sampling: { temperature: 0 } });
    expect(r.ids).toEqual(KNOWN_IDS);
    expect(engine.info.kvCacheBytes).toBe(2 * 5 * 4 * 128 * 8 * 2); // K and V, 5 layers, 4 kv heads, 128 positions, head 8, 2 bytes
    expect(engine.info.kvCache).toBe('f16');
  });

  kvFormatContinuationTests('f16', () => engine);
});
