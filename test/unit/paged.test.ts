/**
 * Batched decoding's kernels against the CPU reference: the paged KV pool's bookkeeping, RoPE + KV
 * append per row at its own position into its own blocks, attention per row over its own
 * sequence through its block table (compared with the contiguous reference of that sequence alone),
 * and the argmax of several logits rows. Ragged shapes: head dims, blocks and lengths that are
 * multiples of nothing, GQA, partial rotary, a sliding window.
 */
import { describe, expect, it } from 'vitest';
import { BlockAllocator, KvPool } from '../../src/models/kv-pool.js';
import { pagedAppend, pagedAttention, createPagedScratch, tableBytes, tableStride, type PagedShape } from '../../src/kernels/paged.js';
import { argmaxRows } from '../../src/kernels/argmax_rows.js';
import { ropeInvFreq, type RopeStyle } from '../../src/kernels/rope.js';
import { ropeRef } from '../../src/reference/rope.js';
import { kvAppendRef } from '../../src/reference/kvcache.js';
import { attentionRef } from '../../src/reference/attention.js';
import { createStorage, readF32, uploadStorage, writeBuffer } from '../../src/gpu/buffers.js';
import { isHearthError } from '../../src/errors.js';
import type { ModelConfig } from '../../src/formats/config.js';
import { run, testGpu, testStep } from '../helpers/gpu.js';
import { compare, randomF32 } from '../helpers/random.js';

describe('block allocator', () => {
  it('grows sequences block by block from one pool, frees them for any other, and refuses what does not fit', () => {
    const a = new BlockAllocator(6, 4, 3);
    expect(a.reserve(1, 5)).toEqual([0, 1]);
    expect(a.reserve(2, 1)).toEqual([2]);
    expect(a.reserve(1, 8)).toEqual([0, 1]); // 8 positions still fit two blocks
    expect(a.reserve(1, 9)).toEqual([0, 1, 3]); // one more block, after sequence 2's
    expect(a.length(1)).toBe(9);
    expect(a.freeBlocks).toBe(2);
    expect(a.canHold(2, 12)).toBe(true);
    expect(a.canHold(3, 12)).toBe(false);
    // exhaustion: typed, and nothing taken
    const full = (() => {
      try {
        a.reserve(3, 12);
      } catch (e) {
        return e;
      }
    })();
    expect(isHearthError(full, 'KV_POOL_FULL')).toBe(true);
    expect(a.freeBlocks).toBe(2);
    expect(a.sequences).toBe(2);
    // past the block table: CONTEXT_OVERFLOW, whatever is free
    expect(() => a.reserve(2, 13)).toThrow(expect.objectContaining({ code: 'CONTEXT_OVERFLOW' }));
    // a short sequence ending frees its block for a long one
    a.release(2);
    expect(a.freeBlocks).toBe(3);
    expect(a.reserve(3, 12)).toEqual([2, 4, 5]);
    a.release(1);
    a.release(3);
    a.release(3); // twice: nothing
    expect(a.freeBlocks).toBe(6);
    expect(a.sequences).toBe(0);
    expect(() => a.table(1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new BlockAllocator(0, 4, 1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('paged append and attention kernels', () => {
  const cases: { nHeads: number; nKvHeads: number; headDim: number; rotaryDim: number; style: RopeStyle; blockSize: number; lens: number[]; window: number }[] = [
    { nHeads: 6, nKvHeads: 2, headDim: 10, rotaryDim: 10, style: 'half', blockSize: 3, lens: [0, 4, 11], window: 0 },
    { nHeads: 4, nKvHeads: 4, headDim: 12, rotaryDim: 8, style: 'interleaved', blockSize: 5, lens: [7, 0, 13, 2], window: 4 },
    { nHeads: 3, nKvHeads: 1, headDim: 8, rotaryDim: 8, style: 'half', blockSize: 16, lens: [70], window: 0 },
  ];
  for (const cs of cases) {
    it(`${cs.lens.length} rows at positions ${cs.lens.join(', ')}: ${cs.nHeads}/${cs.nKvHeads} heads x ${cs.headDim}, blocks of ${cs.blockSize}, ${cs.style} rotary ${cs.rotaryDim}${cs.window ? `, window ${cs.window}` : ''}`, async () => {
      const ctx = await testGpu();
      const step = await testStep();
      const { nHeads, nKvHeads, headDim, blockSize, lens } = cs;
      const M = lens.length;
      const maxRows = M + 1;
      const maxCtx = Math.max(...lens) + 2;
      const config = { numKvHeads: nKvHeads, headDim, numLayers: 1 } as ModelConfig;
      const pool = new KvPool(ctx, config, { blockSize, blocks: 40, maxPositions: maxCtx });
      const shape: PagedShape = { nHeads, nKvHeads, headDim, blockSize, maxBlocks: pool.alloc.maxBlocksPerSequence, maxRows };
      // interleave the sequences' growth so their blocks are scattered through the pool
      for (let p = 1; p <= maxCtx; p += blockSize) lens.forEach((n, r) => pool.alloc.reserve(r, Math.min(p, n + 1)));
      // each sequence's earlier K/V: a contiguous reference cache, and the same values in its blocks
      const kRef = lens.map((_, r) => randomF32(nKvHeads * maxCtx * headDim, 100 + r));
      const vRef = lens.map((_, r) => randomF32(nKvHeads * maxCtx * headDim, 200 + r));
      const poolK = new Float32Array(pool.k[0]!.size / 4);
      const poolV = new Float32Array(pool.v[0]!.size / 4);
      lens.forEach((n, r) => {
        const blocks = pool.alloc.table(r);
        for (let t = 0; t < n; t++) {
          for (let h = 0; h < nKvHeads; h++) {
            const at = pool.offset(blocks[Math.floor(t / blockSize)]!, h, t % blockSize);
            poolK.set(kRef[r]!.subarray((h * maxCtx + t) * headDim, (h * maxCtx + t + 1) * headDim), at);
            poolV.set(vRef[r]!.subarray((h * maxCtx + t) * headDim, (h * maxCtx + t + 1) * headDim), at);
          }
        }
      });
      writeBuffer(ctx, pool.k[0]!, 0, poolK);
      writeBuffer(ctx, pool.v[0]!, 0, poolV);
      const table = new Uint32Array(tableBytes(shape) / 4);
      lens.forEach((n, r) => {
        table[r * tableStride(shape)] = n;
        table.set(pool.alloc.table(r), r * tableStride(shape) + 1);
      });
      const tableBuf = uploadStorage(ctx, table, 'table');
      const q = randomF32(maxRows * nHeads * headDim, 1);
      const k = randomF32(maxRows * nKvHeads * headDim, 2);
      const v = randomF32(maxRows * nKvHeads * headDim, 3);
      const qBuf = uploadStorage(ctx, q, 'q');
      const kBuf = uploadStorage(ctx, k, 'k');
      const vBuf = uploadStorage(ctx, v, 'v');
      const invFreq = ropeInvFreq(cs.rotaryDim, 10000);
      const out = createStorage(ctx, maxRows * nHeads * headDim * 4, 'att');
      const scratch = createPagedScratch(ctx, shape);
      const scale = 0.37;
      const rope = { invFreq: uploadStorage(ctx, invFreq, 'inv_freq'), rotaryDim: cs.rotaryDim, style: cs.style };
      const range = (b: GPUBuffer) => ({ buffer: b, offset: 0, size: b.size });
      const append = pagedAppend(ctx, { ...shape, step: step.buffer, q: range(qBuf), k: range(kBuf), v: range(vBuf), kPool: pool.k[0]!, vPool: pool.v[0]!, table: tableBuf, rope });
      const attend = pagedAttention(ctx, { ...shape, step: step.buffer, q: range(qBuf), kPool: pool.k[0]!, vPool: pool.v[0]!, table: tableBuf, out, scratch, scale, window: cs.window });
      await run([...append, attend], { tokens: M });

      const gotQ = await readF32(ctx, qBuf, maxRows * nHeads * headDim);
      const gotAtt = await readF32(ctx, out, M * nHeads * headDim);
      const gotK = await readF32(ctx, pool.k[0]!, poolK.length);
      const gotV = await readF32(ctx, pool.v[0]!, poolV.length);
      const qd = nHeads * headDim;
      const kd = nKvHeads * headDim;
      for (let r = 0; r < M; r++) {
        const pos = lens[r]!;
        const wantQ = ropeRef(q.slice(r * qd, (r + 1) * qd), 1, nHeads, headDim, cs.rotaryDim, invFreq, cs.style, pos, true);
        kvAppendRef(kRef[r]!, vRef[r]!, k.subarray(r * kd, (r + 1) * kd), v.subarray(r * kd, (r + 1) * kd), 1, nKvHeads, headDim, maxCtx, pos, { invFreq, rotaryDim: cs.rotaryDim, style: cs.style });
        expect(compare(gotQ.subarray(r * qd, (r + 1) * qd), wantQ).maxAbs).toBeLessThan(1e-5);
        // the new position landed in the row's own block
        const blocks = pool.alloc.table(r);
        for (let h = 0; h < nKvHeads; h++) {
          const at = pool.offset(blocks[Math.floor(pos / blockSize)]!, h, pos % blockSize);
          const ref = (h * maxCtx + pos) * headDim;
          expect(compare(gotK.subarray(at, at + headDim), kRef[r]!.subarray(ref, ref + headDim)).maxAbs).toBeLessThan(1e-5);
          expect(Array.from(gotV.subarray(at, at + headDim))).toEqual(Array.from(vRef[r]!.subarray(ref, ref + headDim)));
        }
        const want = attentionRef({ nHeads, nKvHeads, headDim, maxCtx, q: wantQ, kCache: kRef[r]!, vCache: vRef[r]!, tokens: 1, pos, scale, window: cs.window });
        expect(compare(gotAtt.subarray(r * qd, (r + 1) * qd), want).maxAbs).toBeLessThan(2e-5);
      }
      // every other sequence's positions are untouched
      const written = new Set(lens.flatMap((pos, r) => Array.from({ length: nKvHeads }, (_, h) => pool.offset(pool.alloc.table(r)[Math.floor(pos / blockSize)]!, h, pos % blockSize))));
      for (let i = 0; i < poolK.length; i += headDim) if (!written.has(i)) expect(gotK[i]).toBe(poolK[i]);
      for (const b of [tableBuf, qBuf, kBuf, vBuf, out, scratch, rope.invFreq]) b.destroy();
      pool.destroy();
    });
  }

  it('argmax of each row with its log-probability, the lower index on ties, and only step.tokens rows', async () => {
    const ctx = await testGpu();
    const step = await testStep();
    const vocab = 133;
    const rows = 4;
    const logits = randomF32(rows * vocab, 7, 5);
    logits[vocab + 17] = 9;
    logits[vocab + 90] = 9; // a tie: 17 wins
    const out = createStorage(ctx, rows * 8, 'out');
    writeBuffer(ctx, out, 0, new Uint32Array(2 * rows).fill(7));
    const lb = uploadStorage(ctx, logits, 'logits');
    await run(argmaxRows(ctx, { step: step.buffer, logits: lb, out, vocab, maxRows: rows }), { tokens: 3 });
    const words = await readF32(ctx, out, 2 * rows);
    const got = new Uint32Array(words.buffer).filter((_, i) => i % 2 === 0);
    const want = [0, 1, 2].map((r) => {
      let best = 0;
      for (let i = 1; i < vocab; i++) if (logits[r * vocab + i]! > logits[r * vocab + best]!) best = i;
      return best;
    });
    expect(want[1]).toBe(17);
    expect(Array.from(got)).toEqual([...want, 7]);
    want.forEach((id, r) => {
      const row = Array.from(logits.subarray(r * vocab, (r + 1) * vocab));
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
      expect(words[2 * r + 1]).toBeCloseTo(row[id]! - lse, 5);
    });
    lb.destroy();
    out.destroy();
  });
});
