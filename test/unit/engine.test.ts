/** Engine and OpenAI-style API behaviour on the real stories260K model. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveModelSource } from '../../src/hub/resolve.js';
import type { Engine } from '../../src/engine/engine.js';
import { createOpenAIApi, type OpenAIApi } from '../../src/api/openai.js';
import { isHearthError } from '../../src/errors.js';
import { StopStringMatcher } from '../../src/engine/stop.js';
import { engineFor } from '../helpers/models.js';
import { KNOWN_IDS, KNOWN_TEXT, STORIES } from '../helpers/stories.js';

let engine: Engine;
let api: OpenAIApi;
beforeAll(async () => {
  engine = await engineFor(await resolveModelSource(STORIES), 256);
  api = createOpenAIApi(engine, 'stories260K');
});
afterAll(async () => engine?.unload());

const code = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    return isHearthError(e) ? e.code : `not a HearthError: ${String(e)}`;
  }
  return 'no error';
};

describe('StopStringMatcher', () => {
  it('holds back a possible stop-string prefix and never emits the stop string', () => {
    const m = new StopStringMatcher(['red ball']);
    const pieces = ['a big, r', 'ed b', 'all. She'];
    const out = pieces.map((p) => m.push(p));
    expect(out.map((o) => o.emit).join('')).toBe('a big, ');
    expect(out[2]!.stopped).toBe(true);
  });
  it('releases held text when the prefix does not continue into a stop string', () => {
    const m = new StopStringMatcher(['red ball']);
    expect(m.push('a re').emit).toBe('a ');
    // the trailing 'r' could still begin 'red ball', so it waits
    expect(m.push('d car').emit).toBe('red ca');
    expect(m.push('t').emit).toBe('rt');
    expect(m.flush()).toBe('');
  });
});

describe('generation', () => {
  it('streams chat-free completions with usage, and stop strings split across tokens stop it', async () => {
    const r = await api.completions.create({ prompt: [1], max_tokens: 48, temperature: 0, stop: ['red ball'] });
    const cut = KNOWN_TEXT.indexOf('red ball');
    expect(r.choices[0]!.text).toBe(KNOWN_TEXT.slice(0, cut));
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect(r.usage.prompt_tokens).toBe(1);
  });

  it('streams chunks whose text adds up to the non-streamed result', async () => {
    const stream = await api.completions.create({ prompt: [1], max_tokens: 20, temperature: 0, stream: true });
    let text = '';
    let last;
    for await (const c of stream) {
      text += c.choices[0]!.text;
      last = c;
    }
    expect(text).toBe(engine.tokenizer.decode(KNOWN_IDS.slice(0, 20), { skipSpecialTokens: true }));
    expect(last!.usage!.completion_tokens).toBe(20);
    expect(last!.choices[0]!.finish_reason).toBe('length');
  });

  it('same seed gives the same sampled output; another seed differs', async () => {
    const run = (seed: number) => engine.generate({ promptIds: [1], maxTokens: 24, seed, sampling: { temperature: 1.2 } });
    const a = await run(1234);
    const b = await run(1234);
    const c = await run(99);
    expect(b.ids).toEqual(a.ids);
    expect(c.ids).not.toEqual(a.ids);
  });

  it('an abort mid-stream rejects with ABORTED, and the next request is served correctly', async () => {
    const ctrl = new AbortController();
    let n = 0;
    const p = engine.generate({
      promptIds: [1], maxTokens: 200, sampling: { temperature: 0 }, stopIds: [], signal: ctrl.signal,
      onToken: () => {
        if (++n === 5) ctrl.abort();
      },
    });
    expect(await code(p)).toBe('ABORTED');
    const r = await engine.generate({ promptIds: [1], maxTokens: 48, sampling: { temperature: 0 } });
    expect(r.ids).toEqual(KNOWN_IDS);
  });

  it('breaking out of a stream aborts the generation and the engine stays usable', async () => {
    const stream = await api.completions.create({ prompt: [1], max_tokens: 200, temperature: 0, stream: true, ignore_eos: true });
    let chunks = 0;
    for await (const _ of stream) if (++chunks === 3) break;
    const r = await engine.generate({ promptIds: [1], maxTokens: 10, sampling: { temperature: 0 } });
    expect(r.ids).toEqual(KNOWN_IDS.slice(0, 10));
  });

  it('requests run one at a time, in order', async () => {
    const order: number[] = [];
    await Promise.all([0, 1, 2].map((i) => engine.generate({ promptIds: [1], maxTokens: 4 + i, sampling: { temperature: 0 } }).then(() => order.push(i))));
    expect(order).toEqual([0, 1, 2]);
  });

  it('a request that extends the cached sequence prefills only the new tokens', async () => {
    const first = await engine.generate({ promptIds: [1, ...KNOWN_IDS.slice(0, 10)], maxTokens: 5, sampling: { temperature: 0 } });
    expect(first.usage.reusedTokens).toBeGreaterThanOrEqual(0);
    const next = [1, ...KNOWN_IDS.slice(0, 10), ...first.ids, 267];
    const second = await engine.generate({ promptIds: next, maxTokens: 5, sampling: { temperature: 0 } });
    expect(second.usage.reusedTokens).toBe(11 + first.ids.length - 1);
    expect(second.usage.prefilledTokens).toBe(next.length - second.usage.reusedTokens);
    engine.resetCache();
    const cold = await engine.generate({ promptIds: next, maxTokens: 5, sampling: { temperature: 0 } });
    expect(cold.usage.reusedTokens).toBe(0);
    expect(cold.ids).toEqual(second.ids);
  });

  it('penalties change the output; top logprobs are sorted and normalized', async () => {
    const plain = await engine.generate({ promptIds: [1], maxTokens: 30, sampling: { temperature: 0, topLogprobs: 3 } });
    // (this model's logit margins are wide: -3 from frequency+presence does not flip its greedy path,
    // so check the multiplicative repetition penalty here; the sampler tests cover the others exactly)
    const penal = await engine.generate({ promptIds: [1], maxTokens: 30, sampling: { temperature: 0, repetitionPenalty: 3 } });
    expect(penal.ids).not.toEqual(plain.ids);
    for (const t of plain.tokens) {
      expect(t.top.length).toBe(3);
      expect(t.top[0]!.id).toBe(t.id);
      expect(t.top[0]!.logprob).toBeGreaterThanOrEqual(t.top[1]!.logprob);
      expect(t.top[0]!.logprob).toBeLessThanOrEqual(0);
    }
  });
});

describe('KV cache export and import', () => {
  it('a cache exported in two slices and imported back resumes with no re-prefill and the same ids', async () => {
    const prompt = [1, ...KNOWN_IDS.slice(0, 20)];
    engine.resetCache();
    await engine.generate({ promptIds: prompt, maxTokens: 1, sampling: { temperature: 0 } });
    const held = [...engine.cachedTokens];
    expect(held).toEqual(prompt);
    const a = await engine.exportKv(0, 12);
    const b = await engine.exportKv(12, held.length);
    const next = [...prompt, ...KNOWN_IDS.slice(20, 23)];
    const uninterrupted = await engine.generate({ promptIds: next, maxTokens: 8, sampling: { temperature: 0 } });
    // wipe the cache's contents by running something else, then restore the exported slices
    engine.resetCache();
    await engine.generate({ promptIds: [1, 300, 301, 302, 303, 304, 305, 306, 307, 308, 309, 310, 311, 312, 313, 314, 315, 316, 317, 318, 319, 320], maxTokens: 2, sampling: { temperature: 0 } });
    await engine.importKv(a, []);
    await engine.importKv(b, a.tokens);
    const resumed = await engine.generate({ promptIds: next, maxTokens: 8, sampling: { temperature: 0 } });
    expect(resumed.usage.reusedTokens).toBe(prompt.length);
    expect(resumed.usage.prefilledTokens).toBe(3);
    expect(resumed.ids).toEqual(uninterrupted.ids);
  });
});

describe('typed errors, and the engine stays usable', () => {
  it('rejects bad input with the right code', async () => {
    expect(await code(engine.generate({ promptIds: [] }))).toBe('EMPTY_PROMPT');
    expect(await code(engine.generate({ promptIds: [1, 9999] }))).toBe('INVALID_ARGUMENT');
    expect(await code(engine.generate({ promptIds: new Array(300).fill(1) }))).toBe('CONTEXT_OVERFLOW');
    expect(await code(engine.generate({ promptIds: [1], sampling: { temperature: -1 } }))).toBe('INVALID_ARGUMENT');
    expect(await code(engine.generate({ promptIds: [1], sampling: { topP: 1.5 } }))).toBe('INVALID_ARGUMENT');
    expect(await code(engine.generate({ promptIds: [1], maxTokens: -3 }))).toBe('INVALID_ARGUMENT');
    expect(await code(api.chat.completions.create({ messages: [] }))).toBe('EMPTY_PROMPT');
    expect(await code(api.completions.create({ prompt: '' }))).toBe('EMPTY_PROMPT');
    const r = await engine.generate({ promptIds: [1], maxTokens: 5, sampling: { temperature: 0 } });
    expect(r.ids).toEqual(KNOWN_IDS.slice(0, 5));
  });

  it('stops with finish_reason length at the end of the context', async () => {
    const r = await engine.generate({ promptIds: [1], sampling: { temperature: 0 }, stopIds: [] });
    expect(r.finishReason).toBe('length');
    expect(r.usage.totalTokens).toBeLessThanOrEqual(256 + 1);
  });

  it('chat completions render the template and answer with usage', async () => {
    const r = await api.chat.completions.create({ messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 12, temperature: 0 });
    expect(r.choices[0]!.message.role).toBe('assistant');
    expect(r.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(r.hearth.prompt_ids[0]).toBe(1);
    expect(r.usage.completion_tokens).toBeGreaterThan(0);
  });
});
