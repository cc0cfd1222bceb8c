/**
 * A GPU device lost mid-generation (destroyed behind the engine's back, as a driver reset or a
 * crashed GPU process does): the pending request and every later one reject with DEVICE_LOST
 * saying what happened and what to do; engine.info says so; unload still works; a new engine on
 * a new device runs. Uncaptured WebGPU errors are counted, not dropped.
 */
import { describe, expect, it } from 'vitest';
import { createEngine, HearthError } from '../../src/node.js';
import { createNodeGpuContext } from '../../src/gpu/node.js';
import { KNOWN_IDS, STORIES } from '../helpers/stories.js';

async function failure(p: Promise<unknown>): Promise<HearthError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e, `expected a HearthError, got ${String(e)}`).toBeInstanceOf(HearthError);
  return e as HearthError;
}

describe('device loss', () => {
  it('ends the pending request and every later one with DEVICE_LOST; a new engine works', async () => {
    const engine = await createEngine({ model: STORIES, contextLength: 128 });
    try {
      expect(engine.info.deviceLost).toBe(false);
      let tokens = 0;
      const stream = await engine.completions.create({ prompt: [1], max_tokens: 100, temperature: 0, stream: true, ignore_eos: true });
      const pending = (async () => {
        for await (const c of stream) {
          if (c.choices[0]!.text) tokens++;
          // a driver reset, mid-generation
          if (tokens === 3) engine.engine.ctx.device.destroy();
        }
      })();
      const e = await failure(pending);
      expect(e.code, e.message).toBe('DEVICE_LOST');
      expect(e.message).toMatch(/The GPU device was lost \(destroyed: .+\).*create a new one/);
      expect(e.hint).toMatch(/Unload this engine and create a new one/);
      expect(tokens).toBeLessThan(10);
      expect(engine.info.deviceLost).toBe(true);

      // every later call says the same, at once
      for (const later of [
        engine.completions.create({ prompt: [1], max_tokens: 2 }),
        engine.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, stream: true }).then(async (s) => {
          for await (const _ of s);
        }),
        engine.engine.logits([1, 2]),
      ]) {
        expect((await failure(later)).code).toBe('DEVICE_LOST');
      }
    } finally {
      await engine.unload();
    }
    expect(engine.info.memoryBytes).toBe(0);

    const again = await createEngine({ model: STORIES, contextLength: 128 });
    try {
      const r = await again.completions.create({ prompt: [1], max_tokens: 5, temperature: 0 });
      expect(r.hearth.ids).toEqual(KNOWN_IDS.slice(0, 5));
    } finally {
      await again.unload();
    }
  }, 120_000);

  it('a device destroyed by its own context is not reported as lost', async () => {
    const ctx = await createNodeGpuContext();
    ctx.destroy();
    await ctx.whenLost;
    expect(ctx.lost).toBeNull();
  });

  it('counts uncaptured errors instead of dropping them', async () => {
    const ctx = await createNodeGpuContext();
    try {
      // a validation error no scope catches: a buffer both MAP_READ and STORAGE
      ctx.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE });
      const t0 = Date.now();
      while (ctx.uncaptured.count === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
      expect(ctx.uncaptured.count).toBe(1);
      expect(ctx.uncaptured.last?.message).toMatch(/usage/i);
    } finally {
      ctx.destroy();
    }
  });
});
