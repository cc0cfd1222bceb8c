/** The real stories260K model (../shared/models) must produce its known greedy output. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveModelSource } from '../../src/hub/resolve.js';
import type { Engine } from '../../src/engine/engine.js';
import type { TokenConstraint } from '../../src/engine/constraint.js';
import { engineFor, logSoftmax } from '../helpers/models.js';
import { KNOWN_IDS, KNOWN_TEXT, STORIES } from '../helpers/stories.js';

const TOP5: [number, number][] = [[403, 17.0235], [385, 15.4062], [410, 13.1083], [317, 12.7692], [407, 12.4181]];

let engine: Engine;
beforeAll(async () => {
  engine = await engineFor(await resolveModelSource(STORIES), 512);
});
afterAll(async () => engine?.unload());

/** Every id allowed: a request with it decodes step by step (the loop without running ahead). */
const stepByStep = (): TokenConstraint => ({ nextMask: () => null, accept: () => undefined, canStop: () => true, isTerminated: () => false });

describe('stories260K', () => {
  it('a decode step is 28 launches: embedding, 5 per layer (5 layers), LM head, greedy sampler', () => {
    expect(engine.info.dispatchesPerToken).toBe(28);
  });

  it('the GPU-resident decode loop gives what the step-by-step loop gives: greedy, seeded sampling, stops one step late, cached tokens', async () => {
    const prompt = engine.tokenizer.encode('Once upon a time');
    const requests = [
      { sampling: { temperature: 0 }, maxTokens: 20 },
      { sampling: { temperature: 0.9, topK: 40, topP: 0.9 }, seed: 7, maxTokens: 20 },
      { sampling: { temperature: 1.2, repetitionPenalty: 1.3, topLogprobs: 3 }, seed: 11, maxTokens: 16 },
      // stops decided by the token (a stop id, a stop string): the step submitted ahead is discarded
      { sampling: { temperature: 0 }, maxTokens: 40, stopIds: [KNOWN_IDS[6]!] },
      { sampling: { temperature: 0.8 }, seed: 3, maxTokens: 40, stopStrings: [' the'] },
    ];
    for (const r of requests) {
      // both prefill the whole prompt (a reused prefix would run its last token through the GEMV)
      engine.resetCache();
      const ahead = await engine.generate({ promptIds: prompt, ...r });
      const cachedAhead = [...engine.cachedTokens];
      engine.resetCache();
      const sync = await engine.generate({ promptIds: prompt, ...r, constraint: stepByStep() });
      expect(ahead.ids, JSON.stringify(r)).toEqual(sync.ids);
      expect(ahead.text).toBe(sync.text);
      expect(ahead.finishReason).toBe(sync.finishReason);
      expect(ahead.tokens.map((t) => t.logprob)).toEqual(sync.tokens.map((t) => t.logprob));
      expect(cachedAhead).toEqual([...engine.cachedTokens]);
      // the prompt and the emitted tokens that were run (all, or all but the last): never the discarded step's token
      expect(cachedAhead).toEqual([...prompt, ...ahead.ids].slice(0, cachedAhead.length));
      expect(cachedAhead.length).toBeGreaterThanOrEqual(prompt.length + ahead.ids.length - 1);
    }
    // a request that extends the last one reuses its cache and matches a fresh engine's reply
    const last = await engine.generate({ promptIds: prompt, sampling: { temperature: 0 }, maxTokens: 12 });
    const next = [...prompt, ...last.ids.slice(0, 8)];
    const reused = await engine.generate({ promptIds: next, sampling: { temperature: 0 }, maxTokens: 8 });
    expect(reused.usage.reusedTokens).toBe(next.length - 1);
    engine.resetCache();
    const fresh = await engine.generate({ promptIds: next, sampling: { temperature: 0 }, maxTokens: 8 });
    expect(reused.ids).toEqual(fresh.ids);
  });

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
