/**
 * The q8 KV cache (kvCache: 'q8': blocks of int8 with an f32 scale each) against the CPU
 * reference: the KV append (copy and both RoPE conventions, at every block size a head dimension
 * leads to), attention (prefill and decode) reading it, KvCache's f32 interface, and a whole
 * model: stories260K's known greedy ids, K/V exported and imported, a stored session restored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvAppend, kvBlock, kvBytes } from '../../src/kernels/kv_append.js';
import { attention } from '../../src/kernels/attention.js';
import { matmul } from '../../src/kernels/matmul.js';
import { ropeInvFreq, type RopeStyle } from '../../src/kernels/rope.js';
import { kvAppendRef } from '../../src/reference/kvcache.js';
import { attentionRef } from '../../src/reference/attention.js';
import { createStorage, readBuffer, readF32, uploadStorage } from '../../src/gpu/buffers.js';
import { uploadWeight, destroyWeight } from '../../src/gpu/weights.js';
import { KvCache } from '../../src/models/state.js';
import { dequantizeQ8Blocks, quantizeQ8Blocks } from '../../src/quant/kv-q8.js';
import { resolveModelSource } from '../../src/hub/resolve.js';
import type { Engine } from '../../src/engine/engine.js';
import type { ModelConfig } from '../../src/formats/config.js';
import { run, testGpu, testStep } from '../helpers/gpu.js';
import { compare, randomF32 } from '../helpers/random.js';
import { engineFor } from '../helpers/models.js';
import { kvFormatContinuationTests } from '../helpers/kv-format-model.js';
import { KNOWN_IDS, STORIES } from '../helpers/stories.js';

type Ctx = Awaited<ReturnType<typeof testGpu>>;

/** A cache tensor's bytes: the int8 values, then one f32 scale per block. */
function q8Bytes(x: Float32Array, block: number): Uint8Array {
  const out = new Uint8Array(kvBytes('q8', x.length, block));
  quantizeQ8Blocks(x, block, new Int8Array(out.buffer, 0, x.length), new Float32Array(out.buffer, x.length, x.length / block));
  return out;
}

function q8Values(bytes: ArrayBuffer, values: number, block: number): { x: Float32Array; scales: Float32Array } {
  const x = new Float32Array(values);
  const scales = new Float32Array(bytes, values, values / block);
  dequantizeQ8Blocks(new Int8Array(bytes, 0, values), scales, block, x);
  return { x, scales };
}

/** Every value within half a step of its block's scale of the reference (and the scale its block's max / 127). */
function expectQuantized(got: { x: Float32Array; scales: Float32Array }, want: Float32Array, block: number, what: string): void {
  for (let b = 0; b < want.length / block; b++) {
    const ref = want.subarray(b * block, (b + 1) * block);
    const amax = Math.max(...Array.from(ref, Math.abs));
    expect(Math.abs(got.scales[b]! - amax / 127), `${what}: scale of block ${b}`).toBeLessThanOrEqual(2 ** -16 * (amax / 127) + 1e-30);
    for (let i = 0; i < block; i++) {
      expect(Math.abs(got.x[b * block + i]! - ref[i]!), `${what}: value ${b * block + i}`).toBeLessThanOrEqual((amax / 127) * 0.5001 + 1e-6);
    }
  }
}

const readQ8 = async (ctx: Ctx, buf: GPUBuffer, values: number, block: number) => q8Values(await readBuffer(ctx, buf), values, block);

describe('q8 KV cache', () => {
  it('the block size follows the head dimension; the bytes are int8 values plus an f32 scale per block', () => {
    expect([64, 128, 256, 48, 40, 8, 12].map(kvBlock)).toEqual([32, 32, 32, 16, 8, 8, 4]);
    expect(() => kvBlock(6)).toThrow(/divisible by 4/);
    expect(kvBytes('q8', 64 * 10, 64)).toBe(640 + 20 * 4);
  });

  const cases: [tokens: number, nKvHeads: number, headDim: number, maxCtx: number, pos: number, rope: { rotaryDim: number; style: RopeStyle } | null][] = [
    [3, 2, 8, 16, 5, null],
    [4, 2, 32, 20, 9, { rotaryDim: 32, style: 'half' }],
    [2, 3, 24, 12, 3, { rotaryDim: 16, style: 'interleaved' }],
    [5, 1, 48, 12, 0, { rotaryDim: 24, style: 'half' }],
    [1, 2, 64, 9, 8, { rotaryDim: 64, style: 'interleaved' }],
  ];
  for (const [tokens, nKvHeads, headDim, maxCtx, pos, rope] of cases) {
    it(`kv_append: ${tokens} tokens x ${nKvHeads} kv heads x ${headDim} (blocks of ${kvBlock(headDim)}) at pos ${pos}, ${rope ? `rope ${rope.style} (rotary ${rope.rotaryDim})` : 'no rope'}`, async () => {
      const ctx = await testGpu();
      const step = await testStep();
      const block = kvBlock(headDim);
      const rowFloats = nKvHeads * headDim;
      const values = nKvHeads * maxCtx * headDim;
      const k = randomF32(tokens * rowFloats, 31 + pos, 3);
      const v = randomF32(tokens * rowFloats, 32 + pos);
      // the positions not written keep what the cache held
      const kBefore = randomF32(values, 33);
      const vBefore = randomF32(values, 34);
      const invFreq = rope ? ropeInvFreq(rope.rotaryDim, 10000) : null;
      const kc = uploadStorage(ctx, q8Bytes(kBefore, block), 'k_cache');
      const vc = uploadStorage(ctx, q8Bytes(vBefore, block), 'v_cache');
      await run(
        kvAppend(ctx, {
          step: step.buffer, k: uploadStorage(ctx, k, 'k'), v: uploadStorage(ctx, v, 'v'), kCache: kc, vCache: vc, kvFormat: 'q8',
          nKvHeads, headDim, maxCtx, maxTokens: tokens,
          rope: rope ? { invFreq: uploadStorage(ctx, invFreq!, 'inv_freq'), rotaryDim: rope.rotaryDim, style: rope.style } : undefined,
        }),
        { tokens, pos, kvLen: pos + tokens },
      );
      const wantK = q8Values(q8Bytes(kBefore, block).buffer as ArrayBuffer, values, block).x;
      const wantV = q8Values(q8Bytes(vBefore, block).buffer as ArrayBuffer, values, block).x;
      kvAppendRef(wantK, wantV, k, v, tokens, nKvHeads, headDim, maxCtx, pos, rope ? { ...rope, invFreq: invFreq! } : undefined);
      expectQuantized(await readQ8(ctx, kc, values, block), wantK, block, 'k');
      expectQuantized(await readQ8(ctx, vc, values, block), wantV, block, 'v');
    });
  }

  it('attention reads q8 caches, prefill and decode, as the reference over the same dequantized K and V', async () => {
    const ctx = await testGpu();
    const step = await testStep();
    for (const c of [{ nHeads: 4, nKvHeads: 2, headDim: 20, maxCtx: 48 }, { nHeads: 2, nKvHeads: 1, headDim: 64, maxCtx: 40 }]) {
      const block = kvBlock(c.headDim);
      for (const [tokens, pos] of [[5, 7], [1, 30]] as const) {
        const values = c.nKvHeads * c.maxCtx * c.headDim;
        const kq = q8Bytes(randomF32(values, 51 + pos, 2), block);
        const vq = q8Bytes(randomF32(values, 52 + pos), block);
        const q = randomF32(tokens * c.nHeads * c.headDim, 53 + pos, 2);
        const out = createStorage(ctx, tokens * c.nHeads * c.headDim * 4, 'out');
        const ds = attention(ctx, { ...c, step: step.buffer, q: uploadStorage(ctx, q, 'q'), kCache: uploadStorage(ctx, kq, 'k'), vCache: uploadStorage(ctx, vq, 'v'), kvFormat: 'q8', out, maxTokens: tokens });
        await run(ds, { tokens, pos, kvLen: pos + tokens });
        const k = q8Values(kq.buffer as ArrayBuffer, values, block).x;
        const v = q8Values(vq.buffer as ArrayBuffer, values, block).x;
        const want = attentionRef({ ...c, q, kCache: k, vCache: v, tokens, pos });
        expect(compare(await readF32(ctx, out, want.length), want).maxRel, `head ${c.headDim}, ${tokens} tokens at ${pos}`).toBeLessThan(1e-4);
      }
    }
  });

  it('the RoPE/KV epilogue refuses a q8 cache (its blocks are written by the KV append)', async () => {
    const ctx = await testGpu();
    const step = await testStep();
    const w = uploadWeight(ctx, 'f32', 64, 16, new Uint8Array(randomF32(64 * 16, 5).buffer));
    try {
      const kc = createStorage(ctx, 4096, 'k');
      const ropeKv = { invFreq: uploadStorage(ctx, ropeInvFreq(16, 10000), 'inv_freq'), rotaryDim: 16, style: 'half' as const, headDim: 16, kCache: kc, vCache: kc, maxCtx: 8, kvFormat: 'q8' as const };
      const sections = [{ width: 32, offset: 0 }, { width: 16, offset: 64 }, { width: 16, offset: 128 }];
      expect(() => matmul(ctx, { step: step.buffer, x: createStorage(ctx, 64, 'x'), w, y: createStorage(ctx, 1024, 'y'), maxTokens: 1, sections, fusion: { ropeKv } })).toThrow(/not q8/);
    } finally {
      destroyWeight(w);
    }
  });

  it('KvCache keeps 1.125 bytes a value at 32-value blocks and moves positions in and out as f32 (quantized once)', async () => {
    const ctx = await testGpu();
    for (const headDim of [64, 8]) {
      const config = { numKvHeads: 2, headDim, numLayers: 2 } as ModelConfig;
      const f32 = new KvCache(ctx, config, 10);
      const q8 = new KvCache(ctx, config, 10, 'q8');
      expect(q8.bytes / f32.bytes).toBe((1 + 4 / kvBlock(headDim)) / 4);
      const per = q8.floatsFor(3);
      const layers = [0, 1].map((l) => ({ k: randomF32(per, 60 + l), v: randomF32(per, 70 + l) }));
      q8.write(4, 3, layers);
      const back = await q8.read(4, 7);
      for (const [l, { k, v }] of layers.entries()) {
        for (const [got, want] of [[back[l]!.k, k], [back[l]!.v, v]] as const) {
          const once = q8Values(q8Bytes(want, kvBlock(headDim)).buffer as ArrayBuffer, want.length, kvBlock(headDim)).x;
          expect(compare(got, once).maxAbs).toBe(0);
        }
      }
      // what was read and written back is what was there: a round trip loses nothing more
      q8.write(4, 3, back);
      const again = await q8.read(4, 7);
      for (const [l, { k, v }] of back.entries()) {
        expect(compare(again[l]!.k, k).maxAbs).toBe(0);
        expect(compare(again[l]!.v, v).maxAbs).toBe(0);
      }
      f32.destroy();
      q8.destroy();
    }
  });
});

describe('stories260K with a q8 KV cache', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await engineFor(await resolveModelSource(STORIES), 128, { kvCache: 'q8' });
  });
  afterAll(async () => engine?.unload());

  it('greedy from BOS gives the 48 known ids; the cache takes 0.375x the bytes (head 8: blocks of 8)', async () => {
    const r = await engine.generate({ promptIds: [1], maxTokens: 48, sampling: { temperature: 0 } });
    expect(r.ids).toEqual(KNOWN_IDS);
    expect(engine.info.kvCacheBytes).toBe(2 * 5 * (4 * 128 * 8) * 1.5); // K and V, 5 layers, 4 kv heads x 128 positions x head 8, 1 byte + 4 per 8
    expect(engine.info.kvCache).toBe('q8');
    // decode: the RoPE of q and the KV append run as launches of their own (28 + 2 per layer)
    expect(engine.info.dispatchesPerToken).toBe(38);
  });

  kvFormatContinuationTests('q8', () => engine);
});
