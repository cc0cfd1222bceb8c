/**
 * A push-to-pull bridge: `start` produces values through `push` (the engine's token callback, a
 * worker's chunk callback) and resolves with an optional last value; the caller pulls them with
 * `for await`. Leaving the loop early, or `outer` aborting, aborts the signal `start` was given,
 * and an error from `start` is thrown from the loop once the values before it are consumed.
 */
export function pushToPull<T>(start: (push: (v: T) => void, signal: AbortSignal) => Promise<T | null>, outer?: AbortSignal, closeReason?: () => unknown): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const items: T[] = [];
      let wake: (() => void) | null = null;
      let done = false;
      let error: unknown = null;
      const ctrl = new AbortController();
      const onOuter = () => ctrl.abort(outer?.reason);
      if (outer?.aborted) ctrl.abort(outer.reason);
      outer?.addEventListener('abort', onOuter, { once: true });
      const notify = () => {
        const w = wake;
        wake = null;
        w?.();
      };
      start((v) => {
        items.push(v);
        notify();
      }, ctrl.signal)
        .then(
          (last) => {
            if (last) items.push(last);
          },
          (e: unknown) => {
            error = e;
          },
        )
        .finally(() => {
          done = true;
          notify();
          outer?.removeEventListener('abort', onOuter);
        });
      return {
        async next(): Promise<IteratorResult<T>> {
          for (;;) {
            if (items.length) return { value: items.shift()!, done: false };
            if (done) {
              if (error) {
                const e = error;
                error = null;
                throw e;
              }
              return { value: undefined, done: true };
            }
            await new Promise<void>((r) => (wake = r));
          }
        },
        async return(): Promise<IteratorResult<T>> {
          ctrl.abort(closeReason?.());
          return { value: undefined, done: true };
        },
      };
    },
  };
}

/**
 * The other way across a worker boundary: forward every value of `stream` but the last through
 * `onChunk` (a Comlink callback: one-way messages, no per-token round trip) and resolve with the
 * last. The callback's port and the call's own port keep no order between them, so this waits
 * until the forwarded values are delivered before resolving; otherwise the caller could see the
 * stream end before its second-to-last chunk (a tool call's arguments, say) arrived. A caller
 * that goes away (a closed tab) never acknowledges: `signal` (the request's) ends that wait.
 */
export async function pushAllButLast<T>(stream: AsyncIterable<T>, onChunk: (v: T) => unknown, signal?: AbortSignal): Promise<T | null> {
  let last: T | null = null;
  let delivered: unknown = null;
  for await (const c of stream) {
    if (last !== null) delivered = onChunk(last);
    last = c;
  }
  await unlessAborted(delivered, signal);
  return last;
}

/** Waits for `p`, or rejects with the signal's reason as soon as it aborts. */
async function unlessAborted(p: unknown, signal?: AbortSignal): Promise<void> {
  if (!signal) return void (await p);
  signal.throwIfAborted();
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([p, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
