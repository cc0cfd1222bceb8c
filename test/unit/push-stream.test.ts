import { describe, expect, it } from 'vitest';
import { pushAllButLast, pushToPull } from '../../src/util/push-stream.js';

async function* chunks(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}

describe('push-stream', () => {
  it('pushAllButLast forwards all but the last and resolves only once the forwarded ones are delivered', async () => {
    const seen: number[] = [];
    const pending: Array<() => void> = [];
    // a callback whose delivery lags, as a Comlink port's can behind the call's own port
    const onChunk = (v: number) => new Promise<void>((resolve) => pending.push(() => (seen.push(v), resolve())));
    let settled = false;
    const run = pushAllButLast(chunks(4), onChunk).then((last) => ((settled = true), last));
    for (let spins = 0; spins < 20 && pending.length < 3; spins++) await Promise.resolve();
    expect(pending.length).toBe(3);
    await new Promise((r) => setTimeout(r, 5));
    expect(settled).toBe(false);
    for (const p of pending) p();
    expect(await run).toBe(3);
    expect(seen).toEqual([0, 1, 2]);
  });

  it('pushAllButLast: a caller that never acknowledges (a closed tab) is let go when the request aborts', async () => {
    const ctrl = new AbortController();
    // deliveries that never settle, as a Comlink callback whose page has closed
    const run = pushAllButLast(chunks(3), () => new Promise<void>(() => undefined), ctrl.signal);
    await new Promise((r) => setTimeout(r, 5));
    ctrl.abort(new Error('tab gone'));
    await expect(run).rejects.toThrow('tab gone');
    // with the deliveries settled, the same signal changes nothing
    expect(await pushAllButLast(chunks(3), () => Promise.resolve(), new AbortController().signal)).toBe(2);
  });

  it('pushAllButLast on an empty stream resolves null and calls nothing', async () => {
    let calls = 0;
    expect(await pushAllButLast(chunks(0), () => calls++)).toBeNull();
    expect(calls).toBe(0);
  });

  it('pushToPull joins pushed values and the last one, in order, and rethrows an error after them', async () => {
    const got: number[] = [];
    for await (const v of pushToPull<number>(async (push) => (push(1), push(2), 3))) got.push(v);
    expect(got).toEqual([1, 2, 3]);
    const before: number[] = [];
    const failing = pushToPull<number>(async (push) => {
      push(7);
      throw new Error('boom');
    });
    await expect((async () => { for await (const v of failing) before.push(v); })()).rejects.toThrow('boom');
    expect(before).toEqual([7]);
  });
});
