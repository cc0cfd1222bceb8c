/**
 * Batched decoding, whole models: sequences decoded together (one forward pass per step over all
 * of them, K/V in the paged pool) give exactly the greedy ids each gives alone (Engine.generate),
 * while they join and leave the batch at different steps, on stories260K and on synthetic models
 * (GQA with q/k norm in q8_0; Gemma 3 with sliding-window layers and post-norms). The pool ends
 * with every block free.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { resolveModelSource } from '../../src/hub/resolve.js';
import type { Engine, GenerateResult } from '../../src/engine/engine.js';
import type { BatchDecoder } from '../../src/engine/batch.js';
import { isHearthError } from '../../src/errors.js';
import type { ModelSource } from '../../src/hub/byte-source.js';
import type { SyntheticSpec } from '../fixtures/synthetic.js';
import { engineFor, syntheticSource, type FileFormat } from '../helpers/models.js';
import { STORIES } from '../helpers/stories.js';

const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines) await e.unload();
});

let stories: Promise<Engine> | null = null;
function storiesEngine(): Promise<Engine> {
  stories ??= resolveModelSource(STORIES).then(async (source) => {
    const e = await engineFor(source, 64, { prefillChunk: 8 });
    engines.push(e);
    return e;
  });
  return stories;
}

interface Req {
  prompt: number[];
  maxTokens: number;
  /** Steps of the batch before this request joins it. */
  joinAt: number;
}

/** Solo greedy ids of each request. */
async function solo(engine: Engine, reqs: Req[]): Promise<number[][]> {
  const out: number[][] = [];
  for (const r of reqs) out.push((await engine.generate({ promptIds: r.prompt, maxTokens: r.maxTokens, sampling: { temperature: 0 }, stopIds: [] })).ids);
  return out;
}

/** The same requests decoded together: each joins at its step, leaves after its maxTokens. */
async function batched(batch: BatchDecoder, reqs: Req[]): Promise<{ ids: number[][]; widths: number[] }> {
  const ids: number[][] = reqs.map(() => []);
  const seqOf = new Map<number, number>();
  const widths: number[] = [];
  for (let step = 0; ids.some((got, i) => got.length < reqs[i]!.maxTokens); step++) {
    for (const [i, r] of reqs.entries()) {
      if (r.joinAt !== step) continue;
      const { seq, first } = await batch.add(r.prompt);
      ids[i]!.push(first);
      if (ids[i]!.length >= r.maxTokens) batch.remove(seq);
      else seqOf.set(seq, i);
    }
    if (batch.active === 0) continue;
    widths.push(batch.active);
    const { next, refused } = await batch.decode();
    expect(refused.size).toBe(0);
    for (const [seq, token] of next) {
      const i = seqOf.get(seq)!;
      ids[i]!.push(token);
      if (ids[i]!.length >= reqs[i]!.maxTokens) {
        batch.remove(seq);
        seqOf.delete(seq);
      }
    }
  }
  return { ids, widths };
}

async function expectBatchedEqualsSolo(source: ModelSource | Engine, ctx: number, reqs: Req[], maxRows: number, blockSize: number): Promise<void> {
  const engine = 'generate' in source ? source : await engineFor(source, ctx, { prefillChunk: 8 });
  if (engine !== source) engines.push(engine);
  const want = await solo(engine, reqs);
  const batch = engine.createBatch({ maxRows, blockSize });
  try {
    const { ids, widths } = await batched(batch, reqs);
    expect(ids).toEqual(want);
    // the steps really ran several sequences at once
    expect(Math.max(...widths)).toBe(Math.min(maxRows, reqs.length));
    expect(batch.pool.alloc.freeBlocks).toBe(batch.pool.alloc.blocks);
    expect(batch.pool.alloc.sequences).toBe(0);
  } finally {
    batch.destroy();
  }
}

describe('batched decoding equals solo decoding (greedy)', () => {
  it('stories260K: 4 sequences of different lengths, joining and leaving at different steps', async () => {
    const reqs: Req[] = [
      { prompt: [1, 403, 407], maxTokens: 12, joinAt: 0 },
      { prompt: [1, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421], maxTokens: 7, joinAt: 0 },
      { prompt: [1, 395, 317, 426, 338, 401], maxTokens: 10, joinAt: 2 },
      { prompt: [1, 410], maxTokens: 5, joinAt: 3 },
    ];
    await expectBatchedEqualsSolo(await storiesEngine(), 64, reqs, 4, 4);
  });

  const synthetic: [string, SyntheticSpec, FileFormat][] = [
    ['qwen3 gqa4 qk-norm, gguf Q8_0', { arch: 'qwen3', hidden: 128, intermediate: 320, layers: 2, heads: 4, kvHeads: 1, headDim: 64, vocab: 384, tied: false, ropeTheta: 1e6, seed: 11 }, { kind: 'gguf', type: 'Q8_0' }],
    ['gemma3 sliding window 5, safetensors F32', { arch: 'gemma3', hidden: 128, intermediate: 256, layers: 3, heads: 4, kvHeads: 2, headDim: 32, vocab: 384, tied: true, ropeTheta: 1e6, slidingWindow: 5, slidingLayers: [true, true, false], seed: 31 }, { kind: 'hf', dtype: 'F32' }],
  ];
  for (const [name, spec, format] of synthetic) {
    it(`synthetic ${name}: 3 sequences`, async () => {
      const reqs: Req[] = [
        { prompt: [1, 17, 250, 3, 99, 42, 300, 5, 77], maxTokens: 8, joinAt: 0 },
        { prompt: [2, 5], maxTokens: 6, joinAt: 0 },
        { prompt: [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11, 12, 13], maxTokens: 5, joinAt: 1 },
      ];
      await expectBatchedEqualsSolo(syntheticSource(spec, format), 48, reqs, 3, 5);
    });
  }

  it('a pool too small: KV_POOL_FULL at admission (nothing taken) and a sequence refused its next block mid-run', async () => {
    const engine = await storiesEngine();
    const batch = engine.createBatch({ maxRows: 2, blockSize: 4, blocks: 3 });
    try {
      const a = await batch.add([1, 403, 407, 261, 378, 432]); // 6 positions: 2 blocks
      const err = await batch.add([1, 395, 317, 426, 338, 401, 396, 267, 337]).catch((e: unknown) => e);
      expect(isHearthError(err, 'KV_POOL_FULL')).toBe(true);
      expect(batch.pool.alloc.freeBlocks).toBe(1);
      const b = await batch.add([1]); // 1 block, which holds b's next 3 positions
      expect(batch.pool.alloc.freeBlocks).toBe(0);
      // a grows into its second block's last slots, then needs a third block that is not free
      let refusedAt = -1;
      for (let i = 0; i < 4 && refusedAt < 0; i++) {
        const { next, refused } = await batch.decode();
        if (refused.has(a.seq)) {
          expect(isHearthError(refused.get(a.seq), 'KV_POOL_FULL')).toBe(true);
          refusedAt = batch.length(a.seq);
        }
        expect(next.has(b.seq)).toBe(true);
      }
      expect(refusedAt).toBe(8);
      batch.remove(a.seq);
      batch.remove(b.seq);
      expect(batch.pool.alloc.freeBlocks).toBe(3);
    } finally {
      batch.destroy();
    }
  });
});

describe('continuous batching through Engine.generate', () => {
  it('concurrent requests join and leave the batch; greedy replies equal solo ones; an abort ends only its own; non-greedy runs solo; every block comes back', async () => {
    const engine = await engineFor(await resolveModelSource(STORIES), 64, { prefillChunk: 8 });
    engines.push(engine);
    const greedy = { temperature: 0 };
    // a stop string from the middle of a reply
    const probe = (await engine.generate({ promptIds: [1, 395, 317], maxTokens: 9, sampling: greedy })).text;
    const stop = probe.slice(probe.length >> 1, (probe.length >> 1) + 3);
    const reqs = [
      { promptIds: [1, 403, 407], maxTokens: 14 },
      { promptIds: [1, 261, 378, 432, 383, 286, 261], maxTokens: 4 },
      { promptIds: [1, 395, 317], maxTokens: 9, stopStrings: [stop] },
      { promptIds: [1, 410, 408, 419], maxTokens: 60 }, // runs into the context's end (64)
      { promptIds: [1, 292], maxTokens: 6 },
    ];
    const want: GenerateResult[] = [];
    for (const r of reqs) want.push(await engine.generate({ ...r, sampling: greedy }));
    const sampled = await engine.generate({ promptIds: [1, 403], maxTokens: 5, sampling: { temperature: 0.8 }, seed: 5 });

    engine.enableBatching({ maxRows: 3, blockSize: 8 });
    const abort = new AbortController();
    const streamed: string[] = reqs.map(() => '');
    const got = reqs.map((r, i) => engine.generate({ ...r, sampling: greedy, onToken: (e) => (streamed[i] += e.text) }));
    let seen = 0;
    const aborted = engine.generate({ promptIds: [1, 403, 407], maxTokens: 40, sampling: greedy, signal: abort.signal, onToken: () => ++seen === 3 && abort.abort() }).catch((e: unknown) => e);
    const solo = engine.generate({ promptIds: [1, 403], maxTokens: 5, sampling: { temperature: 0.8 }, seed: 5 });
    const results = await Promise.all(got);
    results.forEach((r, i) => {
      expect(r.ids).toEqual(want[i]!.ids);
      expect(r.text).toBe(want[i]!.text);
      expect(streamed[i]).toBe(want[i]!.text);
      expect(r.finishReason).toBe(want[i]!.finishReason);
      r.tokens.forEach((t, j) => expect(t.logprob).toBeCloseTo(want[i]!.tokens[j]!.logprob, 3));
    });
    expect(results[2]!.finishReason).toBe('stop');
    expect(results[3]!.ids.length).toBe(want[3]!.ids.length);
    expect(isHearthError(await aborted, 'ABORTED')).toBe(true);
    expect(seen).toBe(3);
    expect((await solo).ids).toEqual(sampled.ids);
    const state = engine.batching!;
    expect(state.active + state.waiting).toBe(0);
    expect(state.freeBlocks).toBe(state.blocks);
  });
});
