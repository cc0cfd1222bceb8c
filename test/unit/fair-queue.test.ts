/**
 * util/fair-queue: the admission queue of `hearth serve` and of the shared (SharedWorker)
 * engine. Bounded (QUEUE_FULL beyond maxQueued), round-robin across keys and in order within a
 * key, a waiter that aborts leaves at once, release is idempotent, whenIdle waits for the last.
 */
import { describe, expect, it } from 'vitest';
import { FairQueue, type Slot } from '../../src/util/fair-queue.js';
import { HearthError } from '../../src/errors.js';

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('FairQueue', () => {
  it('serves keys round-robin, in order within a key', async () => {
    const q = new FairQueue({ maxActive: 1, maxQueued: 10 });
    const first = await q.acquire('a');
    const order: string[] = [];
    // a burst from "a", then one each from "b" and "c"
    const waits = ['a1', 'a2', 'a3', 'b1', 'c1'].map((name) =>
      q.acquire(name[0]!).then((s) => {
        order.push(name);
        return s;
      }),
    );
    expect(q.stats).toEqual({ active: 1, queued: 5, waitingKeys: 3 });
    let slot: Slot = first;
    for (let i = 0; i < 5; i++) {
      slot.release();
      slot.release(); // idempotent: frees one slot, not two
      await tick();
      expect(q.stats.active).toBe(1);
      slot = await waits[['a1', 'a2', 'a3', 'b1', 'c1'].indexOf(order[i]!)]!;
    }
    expect(order).toEqual(['a1', 'b1', 'c1', 'a2', 'a3']);
    slot.release();
    await q.whenIdle();
    expect(q.stats).toEqual({ active: 0, queued: 0, waitingKeys: 0 });
  });

  it('refuses beyond maxQueued with QUEUE_FULL and a retry time; an aborted waiter leaves', async () => {
    const q = new FairQueue({ maxActive: 2, maxQueued: 1 });
    const s1 = await q.acquire('x');
    const s2 = await q.acquire('y');
    const ctrl = new AbortController();
    const waiting = q.acquire('z', ctrl.signal);
    const full = await q.acquire('w').catch((e: unknown) => e);
    expect(full).toBeInstanceOf(HearthError);
    expect((full as HearthError).code).toBe('QUEUE_FULL');
    expect((full as HearthError).details?.retryAfter).toBeGreaterThanOrEqual(1);
    ctrl.abort();
    expect(((await waiting.catch((e: unknown) => e)) as HearthError).code).toBe('ABORTED');
    expect(q.stats).toEqual({ active: 2, queued: 0, waitingKeys: 0 });
    // the room it left is there for the next one
    const next = q.acquire('w');
    s1.release();
    (await next).release();
    s2.release();
    await q.whenIdle();
    await expect(q.acquire('v', AbortSignal.abort())).rejects.toMatchObject({ code: 'ABORTED' });
    expect(() => new FairQueue({ maxActive: 0, maxQueued: 1 })).toThrow(/maxActive/);
  });
});
