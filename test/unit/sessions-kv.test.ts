/**
 * Stored KV: the chunk codec (f32 exact, f16, q8 blocks with a scale), and what compression costs
 * in accuracy. For each format, a history's KV is exported, encoded, decoded and imported back,
 * then the model continues greedily for N steps; compared with the exact KV: top-20 log-probs at
 * every step (before any divergence) and the greedy ids. On stories260K and on a random-weight
 * model with 64-wide heads.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { resolveModelSource } from '../../src/hub/resolve.js';
import type { Engine, KvSlice } from '../../src/engine/engine.js';
import { isHearthError } from '../../src/errors.js';
import { bytesPerToken, chunkBytes, decodeKv, encodeKv, subSlice, type KvFormat, type KvShape } from '../../src/sessions/kv-codec.js';
import { engineFor, syntheticSource } from '../helpers/models.js';
import { randomF32, rng } from '../helpers/random.js';
import { STORIES } from '../helpers/stories.js';

const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines) await e.unload();
});

function randomSlice(shape: KvShape, start: number, end: number, seed: number): KvSlice {
  const n = end - start;
  const per = shape.kvHeads * n * shape.headDim;
  return {
    start,
    end,
    tokens: Array.from({ length: n }, (_, i) => (i * 7 + seed) % 500),
    layers: Array.from({ length: shape.layers }, (_, l) => ({ k: randomF32(per, seed + 2 * l, 3), v: randomF32(per, seed + 2 * l + 1, 0.5) })),
  };
}

describe('KV chunk codec', () => {
  const shape: KvShape = { layers: 3, kvHeads: 2, headDim: 24 };
  const slice = randomSlice(shape, 5, 18, 11);

  it('round-trips f32 exactly, f16 and q8 within their rounding', () => {
    for (const format of ['f32', 'f16', 'q8'] as KvFormat[]) {
      const bytes = encodeKv(slice, shape, format);
      expect(bytes.byteLength).toBe(chunkBytes(format, shape, 13));
      const { slice: back, format: f } = decodeKv(bytes, shape, { start: 5, end: 18 });
      expect(f).toBe(format);
      expect(back.tokens).toEqual(slice.tokens);
      slice.layers.forEach((l, i) => {
        for (const [want, got] of [[l.k, back.layers[i]!.k], [l.v, back.layers[i]!.v]] as const) {
          let maxAbs = 0;
          let maxErr = 0;
          for (let j = 0; j < want.length; j++) {
            maxAbs = Math.max(maxAbs, Math.abs(want[j]!));
            maxErr = Math.max(maxErr, Math.abs(want[j]! - got[j]!));
          }
          if (format === 'f32') expect(maxErr).toBe(0);
          if (format === 'f16') expect(maxErr).toBeLessThanOrEqual(maxAbs * 2 ** -11);
          // half a step of the largest block's scale
          if (format === 'q8') expect(maxErr).toBeLessThanOrEqual((maxAbs / 127) * 0.5 + 1e-7);
        }
      });
    }
    // bytes per token at SmolLM2-135M's shape (30 layers, 3 KV heads of 64)
    const smol: KvShape = { layers: 30, kvHeads: 3, headDim: 64 };
    expect(bytesPerToken('f32', smol)).toBe(46_084);
    expect(bytesPerToken('f16', smol)).toBe(23_044);
    expect(bytesPerToken('q8', smol)).toBe(12_964);
  });

  it('refuses a chunk that does not fit: other range, other shape, cut short, bad magic', () => {
    const bytes = encodeKv(slice, shape, 'f16');
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isHearthError(e) ? e.code : String(e);
      }
      return 'no error';
    };
    expect(code(() => decodeKv(bytes, shape, { start: 0, end: 13 }))).toBe('SESSION_CORRUPT');
    expect(code(() => decodeKv(bytes, { ...shape, headDim: 12 }, { start: 5, end: 18 }))).toBe('SESSION_CORRUPT');
    expect(code(() => decodeKv(bytes.subarray(0, bytes.length - 4), shape, { start: 5, end: 18 }))).toBe('SESSION_CORRUPT');
    const wrong = bytes.slice();
    wrong[0] = 0;
    expect(code(() => decodeKv(wrong, shape, { start: 5, end: 18 }))).toBe('SESSION_CORRUPT');
  });

  it('cuts sub-ranges head by head', () => {
    const sub = subSlice(slice, shape, 8, 12);
    expect(sub.tokens).toEqual(slice.tokens.slice(3, 7));
    const d = shape.headDim;
    for (let h = 0; h < shape.kvHeads; h++) {
      expect([...sub.layers[1]!.v.subarray(h * 4 * d, (h + 1) * 4 * d)]).toEqual([...slice.layers[1]!.v.subarray((h * 13 + 3) * d, (h * 13 + 7) * d)]);
    }
  });
});

interface Accuracy {
  format: KvFormat;
  /** Steps whose greedy id matches the exact KV's, before the first divergence. */
  sameIds: number;
  steps: number;
  /** Largest |log p| difference over the exact run's top-20 tokens, at steps before any divergence. */
  maxLogprobDiff: number;
  /** Largest relative error of any stored K/V value (against max |x| of its tensor). */
  maxRelError: number;
}

/** Continue `history` + `next` greedily from exact KV, then from KV stored in each format. */
async function accuracy(engine: Engine, history: number[], next: number, steps: number): Promise<Accuracy[]> {
  const shape: KvShape = { layers: engine.config.numLayers, kvHeads: engine.config.numKvHeads, headDim: engine.config.headDim };
  const req = { promptIds: [...history, next], maxTokens: steps, sampling: { temperature: 0, topLogprobs: 20 }, stopIds: [] };
  engine.resetCache();
  await engine.generate({ promptIds: history, maxTokens: 0, stopIds: [] });
  const exact = await engine.exportKv(0, history.length);
  const want = await engine.generate(req);
  const out: Accuracy[] = [];
  for (const format of ['f32', 'f16', 'q8'] as KvFormat[]) {
    const { slice } = decodeKv(encodeKv(exact, shape, format), shape, { start: 0, end: history.length });
    let maxRelError = 0;
    exact.layers.forEach((l, i) => {
      for (const [a, b] of [[l.k, slice.layers[i]!.k], [l.v, slice.layers[i]!.v]] as const) {
        let m = 0;
        for (const x of a) m = Math.max(m, Math.abs(x));
        for (let j = 0; j < a.length; j++) maxRelError = Math.max(maxRelError, Math.abs(a[j]! - b[j]!) / m);
      }
    });
    engine.resetCache();
    await engine.importKv(slice, []);
    const got = await engine.generate(req);
    expect(got.usage.reusedTokens).toBe(history.length);
    let sameIds = 0;
    while (sameIds < steps && got.ids[sameIds] === want.ids[sameIds]) sameIds++;
    let maxLogprobDiff = 0;
    for (let s = 0; s < Math.min(steps, sameIds + 1); s++) {
      const mine = new Map(got.tokens[s]!.top.map((t) => [t.id, t.logprob]));
      for (const t of want.tokens[s]!.top) {
        const g = mine.get(t.id);
        if (g !== undefined) maxLogprobDiff = Math.max(maxLogprobDiff, Math.abs(g - t.logprob));
      }
    }
    out.push({ format, sameIds, steps, maxLogprobDiff, maxRelError });
  }
  return out;
}

function report(name: string, rows: Accuracy[]): void {
  for (const r of rows) {
    console.log(`${name} ${r.format}: greedy ids equal for ${r.sameIds}/${r.steps} steps, max |Δ log p| over top-20 ${r.maxLogprobDiff.toExponential(2)}, max stored-value error ${r.maxRelError.toExponential(2)} of the tensor's max`);
  }
}

describe('accuracy of compressed KV', () => {
  it('stories260K: f32 is exact; f16 and q8 keep the greedy ids over 32 steps', async () => {
    const engine = await engineFor(await resolveModelSource(STORIES), 256);
    engines.push(engine);
    const history = engine.tokenizer.encode('Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.');
    const rows = await accuracy(engine, history, engine.tokenizer.encode(' One', { addSpecialTokens: false })[0]!, 32);
    report('stories260K', rows);
    const [f32, f16, q8] = rows as [Accuracy, Accuracy, Accuracy];
    expect(f32.maxLogprobDiff).toBe(0);
    expect(f32.sameIds).toBe(32);
    expect(f16.sameIds).toBe(32);
    expect(f16.maxLogprobDiff).toBeLessThan(0.02);
    expect(q8.sameIds).toBe(32);
    expect(q8.maxLogprobDiff).toBeLessThan(0.3);
  });

  it('random weights (4 layers, 2 KV heads of 64): f16 keeps the greedy ids over 24 steps; q8 is measured', async () => {
    const spec = { arch: 'llama' as const, hidden: 128, intermediate: 256, layers: 4, heads: 4, kvHeads: 2, headDim: 64, vocab: 512, tied: false, ropeTheta: 10000, seed: 21 };
    const engine = await engineFor(syntheticSource(spec, { kind: 'gguf', type: 'F32' }), 256);
    engines.push(engine);
    const r = rng(5);
    const history = Array.from({ length: 120 }, () => 3 + Math.floor(r() * 500));
    const rows = await accuracy(engine, history, 77, 24);
    report('random-weight model', rows);
    const [f32, f16, q8] = rows as [Accuracy, Accuracy, Accuracy];
    expect(f32.maxLogprobDiff).toBe(0);
    expect(f32.sameIds).toBe(24);
    expect(f16.sameIds).toBe(24);
    expect(f16.maxLogprobDiff).toBeLessThan(0.02);
    expect(q8.maxRelError).toBeLessThan(0.01);
  });
});
