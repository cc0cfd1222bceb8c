/**
 * What every KV cache format must keep on a whole model (stories260K): K/V exported from one
 * engine and imported into another, and a stored session restored into another engine, continue
 * the reply exactly as the first engine does (test/unit/kv-f16.test.ts, kv-q8.test.ts).
 */
import { expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import type { KvFormat } from '../../src/kernels/kv_append.js';
import { resolveModelSource } from '../../src/hub/resolve.js';
import { Sessions } from '../../src/sessions/sessions.js';
import { MemorySessionStore } from '../../src/sessions/store.js';
import { engineFor } from './models.js';
import { KNOWN_IDS, STORIES } from './stories.js';

/** Registers the two tests; `engine()` is the suite's stories260K engine with a `kvCache` cache. */
export function kvFormatContinuationTests(kvCache: KvFormat, engine: () => Engine): void {
  const another = async () => engineFor(await resolveModelSource(STORIES), 128, { kvCache });

  it('exported K/V imported into a fresh engine continues the reply as the first engine does', async () => {
    const prompt = [1, ...KNOWN_IDS.slice(0, 10)];
    await engine().generate({ promptIds: prompt, maxTokens: 1, sampling: { temperature: 0 } });
    const slice = await engine().exportKv(0, prompt.length);
    const other = await another();
    try {
      await other.importKv(slice, []);
      const a = await engine().generate({ promptIds: [...prompt, KNOWN_IDS[10]!], maxTokens: 12, sampling: { temperature: 0 } });
      const b = await other.generate({ promptIds: [...prompt, KNOWN_IDS[10]!], maxTokens: 12, sampling: { temperature: 0 } });
      expect(b.usage.reusedTokens).toBe(prompt.length);
      expect(b.ids).toEqual(a.ids);
      expect(b.tokens.map((t) => t.logprob)).toEqual(a.tokens.map((t) => t.logprob));
    } finally {
      await other.unload();
    }
  });

  it('sessions: a conversation stored from one engine is restored into another and continues as if never interrupted', async () => {
    const greedy = { max_tokens: 6, temperature: 0 };
    const store = new MemorySessionStore();
    const first = new Sessions({ store, engine });
    const { id } = await first.create();
    for (const message of ['Once upon a time', 'there was a dog']) await first.chat(id, { message, ...greedy });
    const want = await first.chat(id, { message: 'and a cat', ...greedy });
    const other = await another();
    try {
      // the same history computed by the first engine and stored; the second engine restores it from the store for the same turn
      const second = new Sessions({ store, engine: () => other });
      const { id: id2 } = await second.create();
      for (const message of ['Once upon a time', 'there was a dog']) await first.chat(id2, { message, ...greedy });
      const before = await second.get(id2);
      const got = await second.chat(id2, { message: 'and a cat', ...greedy });
      expect(got.session.restoredTokens).toBe(before.storedTokens);
      expect(got.hearth.reused_tokens).toBe(before.storedTokens);
      expect(got.hearth.ids).toEqual(want.hearth.ids);
    } finally {
      await other.unload();
    }
  });
}
