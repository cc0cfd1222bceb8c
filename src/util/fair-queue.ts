/**
 * A bounded, fair admission queue in front of one engine: at most `maxActive` holders at once and
 * at most `maxQueued` waiting. Waiters are served round-robin across keys (an HTTP client, a
 * browser tab) and in order within a key, so one client's burst does not starve the others. A
 * waiter whose signal aborts leaves the queue at once; a holder frees its slot with release().
 * `hearth serve` and the SharedWorker host both admit requests through it.
 */
import { HearthError } from '../errors.js';

export interface FairQueueOptions {
  /** Holders at once (>= 1). */
  maxActive: number;
  /** Waiters at most (>= 0); one more is refused with QUEUE_FULL. */
  maxQueued: number;
}

export interface Slot {
  /** Frees the slot (idempotent). */
  release(): void;
}

export interface QueueStats {
  active: number;
  queued: number;
  /** Keys with someone waiting. */
  waitingKeys: number;
}

interface Waiter {
  grant: (s: Slot) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

const aborted = (reason?: unknown) => new HearthError('ABORTED', 'The request was aborted while it waited for the engine.', { cause: reason });

export class FairQueue {
  private active = 0;
  private queued = 0;
  /** Waiters per key; Map order is the round-robin order (a served key moves to the end). */
  private readonly waiting = new Map<string, Waiter[]>();
  private idle: (() => void)[] = [];
  /** Mean time a slot is held (ms, moving average): for Retry-After. */
  private meanHoldMs = 0;

  constructor(private readonly opts: FairQueueOptions) {
    if (!(Number.isInteger(opts.maxActive) && opts.maxActive >= 1)) throw new HearthError('INVALID_ARGUMENT', `maxActive must be an integer >= 1, got ${opts.maxActive}.`);
    if (!(Number.isInteger(opts.maxQueued) && opts.maxQueued >= 0)) throw new HearthError('INVALID_ARGUMENT', `maxQueued must be an integer >= 0, got ${opts.maxQueued}.`);
  }

  get stats(): QueueStats {
    return { active: this.active, queued: this.queued, waitingKeys: this.waiting.size };
  }

  /** A slot for `key`, now or when one frees; QUEUE_FULL when maxQueued are already waiting. */
  acquire(key: string, signal?: AbortSignal): Promise<Slot> {
    if (signal?.aborted) return Promise.reject(aborted(signal.reason));
    if (this.active < this.opts.maxActive && this.queued === 0) return Promise.resolve(this.grant());
    if (this.queued >= this.opts.maxQueued) {
      return Promise.reject(
        new HearthError('QUEUE_FULL', `The server is busy: ${this.active} request(s) running and ${this.queued} waiting, the most it queues.`, {
          hint: `Retry in about ${this.retryAfterSeconds()} s.`,
          details: { active: this.active, queued: this.queued, retryAfter: this.retryAfterSeconds() },
        }),
      );
    }
    return new Promise<Slot>((resolve, reject) => {
      const w: Waiter = {
        grant: resolve,
        signal,
        onAbort: () => {
          const list = this.waiting.get(key);
          const i = list ? list.indexOf(w) : -1;
          if (i < 0) return;
          list!.splice(i, 1);
          if (!list!.length) this.waiting.delete(key);
          this.queued--;
          this.settleIdle();
          reject(aborted(signal?.reason));
        },
      };
      signal?.addEventListener('abort', w.onAbort, { once: true });
      const list = this.waiting.get(key);
      if (list) list.push(w);
      else this.waiting.set(key, [w]);
      this.queued++;
    });
  }

  /** Seconds a newcomer would wait, roughly: the queue ahead of it served at the mean hold time. */
  retryAfterSeconds(): number {
    const ahead = this.queued + this.active;
    return Math.max(1, Math.ceil(((this.meanHoldMs || 1000) * ahead) / this.opts.maxActive / 1000));
  }

  /** Resolves when nothing runs and nothing waits. */
  whenIdle(): Promise<void> {
    if (this.active === 0 && this.queued === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  private grant(): Slot {
    this.active++;
    const t0 = performance.now();
    let done = false;
    return {
      release: () => {
        if (done) return;
        done = true;
        this.active--;
        const held = performance.now() - t0;
        this.meanHoldMs = this.meanHoldMs ? this.meanHoldMs * 0.8 + held * 0.2 : held;
        this.next();
      },
    };
  }

  private next(): void {
    while (this.active < this.opts.maxActive && this.queued > 0) {
      const [key, list] = this.waiting.entries().next().value as [string, Waiter[]];
      const w = list.shift()!;
      this.waiting.delete(key);
      if (list.length) this.waiting.set(key, list); // to the back of the round
      this.queued--;
      w.signal?.removeEventListener('abort', w.onAbort);
      w.grant(this.grant());
    }
    this.settleIdle();
  }

  private settleIdle(): void {
    if (this.active !== 0 || this.queued !== 0) return;
    const idle = this.idle;
    this.idle = [];
    for (const r of idle) r();
  }
}
