/** The real stories260K model (../shared/models) must produce its known greedy output. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveModelSource } from '../../src/hub/resolve.js';
import type { Engine } from '../../src/engine/engine.js';
import { engineFor, logSoftmax } from '../helpers/models.js';
import { KNOWN_IDS, KNOWN_TEXT, STORIES } from '../helpers/stories.js';

const TOP5: [number, number][] = [[403, 17.0235], [385, 15.4062], [410, 13.1083], [317, 12.7692], [407, 12.4181]];

let engine: Engine;
beforeAll(async () => {
  engine = await engineFor(await resolveModelSource(STORIES), 512);
});
afterAll(async () => engine?.unload());

describe('stories260K', () => {
  it('greedy from BOS gives the 48 known ids and text', async () => {
    const r = await engine.generate({ promptIds: [1], maxTokens: 48, sampling: { temperature: 0 } });
    expect(r.ids).toEqual(KNOWN_IDS);
    expect(r.text).toBe(KNOWN_TEXT);
    expect(r.finishReason).toBe('length');
  });

  it('step-0 logits match the known top-5 (id, logit)', async () => {
    const logits = await engine.logits([1]);
    const top = [...logits.keys()].sort((a, b) => logits[b]! - logits[a]!).slice(0, 5);
    expect(top).toEqual(TOP5.map((t) => t[0]));
    for (const [id, v] of TOP5) expect(Math.abs(logits[id]! - v)).toBeLessThan(1e-3);
  });

  it('a text prompt is tokenized as llama2.c does and continues the story', async () => {
    const ids = engine.tokenizer.encode('Once upon a time');
    expect(ids).toEqual([1, 403, 407, 261, 378]);
    const r = await engine.generate({ promptIds: ids, maxTokens: 24, sampling: { temperature: 0 } });
    expect(r.text.length).toBeGreaterThan(20);
    expect(r.text).toMatch(/^[\x20-\x7e\n]+$/);
  });

  it('teacher forcing: one prefill of BOS + the known ids predicts each of them (score)', async () => {
    const tokens = [1, ...KNOWN_IDS];
    const scores = await engine.score(tokens, 1, 5);
    expect(scores).toHaveLength(KNOWN_IDS.length);
    scores.forEach((s, i) => {
      expect(s.id).toBe(KNOWN_IDS[i]);
      expect(s.top[0]!.id, `argmax at position ${i + 1}`).toBe(KNOWN_IDS[i]);
      expect(s.logprob).toBeCloseTo(s.top[0]!.logprob, 6);
      for (let j = 1; j < s.top.length; j++) expect(s.top[j]!.logprob).toBeLessThanOrEqual(s.top[j - 1]!.logprob);
    });
  });

  it('score across prefill chunks equals the last-token logits of each prefix', async () => {
    const small = await engineFor(await resolveModelSource(STORIES), 64, { prefillChunk: 5 });
    try {
      const tokens = [1, ...KNOWN_IDS.slice(0, 13)];
      const scores = await small.score(tokens, 3, 4);
      expect(scores).toHaveLength(tokens.length - 3);
      for (const p of [3, 5, 6, 11, 13]) {
        const lp = logSoftmax(await small.logits(tokens.slice(0, p)));
        const s = scores[p - 3]!;
        expect(s.id).toBe(tokens[p]);
        expect(Math.abs(s.logprob - lp[tokens[p]!]!)).toBeLessThan(1e-3);
        const want = [...lp.keys()].sort((a, b) => lp[b]! - lp[a]!).slice(0, 4);
        expect(s.top.map((t) => t.id)).toEqual(want);
      }
      await expect(small.score([1], 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(small.score(tokens, 0)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    } finally {
      await small.unload();
    }
  });
});
