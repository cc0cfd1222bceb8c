/**
 * Continuous batching: requests that arrive while others decode join the batch between steps,
 * and each leaves on its own (a stop id or string, max_tokens, the context's end, an abort), its
 * KV blocks back in the pool at once. One loop drives the BatchDecoder: admit the waiting
 * requests the batch has rows and blocks for (each prefilled solo, in chunks), run one batched
 * step, hand each sequence its token.
 *
 * Admission keeps room for every running sequence's worst case (prompt + max_tokens, within the
 * context), so a running sequence never finds its next block taken: a request that does not fit
 * now waits (back-pressure) until enough blocks are free. Requests that cannot run in the batch
 * (sampling other than greedy, top logprobs, a grammar) go to Engine.generate's solo path.
 */
import { HearthError } from '../errors.js';
import type { SamplingParams } from '../kernels/sampling.js';
import type { Tokenizer } from '../tokenizer/index.js';
import type { BatchDecoder } from './batch.js';
import type { FinishReason, GenerateRequest, GenerateResult, TokenEvent } from './engine.js';
import { StopStringMatcher } from './stop.js';

/** Whether a request (its sampling validated) can decode in the batch: greedy, no penalties, no top logprobs, no grammar. */
export function batchable(req: GenerateRequest, sampling: SamplingParams): boolean {
  return sampling.temperature === 0 && sampling.topLogprobs === 0 && sampling.repetitionPenalty === 1 && sampling.frequencyPenalty === 0 && sampling.presencePenalty === 0 && !req.constraint;
}

/** One request's reply as its tokens come: stop ids and strings, text, events, how it ended. */
class Reply {
  readonly ids: number[] = [];
  readonly tokens: TokenEvent[] = [];
  text = '';
  finish: FinishReason | null = null;
  private decoder;
  private stops: StopStringMatcher;
  private stopIds: Set<number>;

  constructor(
    readonly req: GenerateRequest,
    tokenizer: Tokenizer,
    readonly maxTokens: number,
  ) {
    this.decoder = tokenizer.createStreamDecoder({ skipSpecialTokens: true });
    this.stops = new StopStringMatcher(req.stopStrings ?? []);
    this.stopIds = new Set(req.stopIds ?? tokenizer.eosIds);
  }

  /** The next token; false when the reply has ended (finish says how). */
  push(id: number, logprob: number): boolean {
    if (this.stopIds.has(id)) {
      this.finish = 'stop';
      return false;
    }
    this.ids.push(id);
    const { emit, stopped } = this.stops.push(this.decoder.push(id));
    const ev: TokenEvent = { id, text: emit, logprob, top: [] };
    this.text += emit;
    this.tokens.push(ev);
    this.req.onToken?.(ev);
    if (stopped) this.finish = 'stop';
    else if (this.ids.length >= this.maxTokens) this.finish = 'length';
    return this.finish === null;
  }

  /** The text held back (an unfinished stop string, UTF-8 in progress), as Engine.generate ends a reply. */
  close(): void {
    if (this.finish === 'stop') return;
    this.finish ??= 'length';
    const tail = this.stops.push(this.decoder.flush());
    const rest = tail.emit + (tail.stopped ? '' : this.stops.flush());
    if (rest) {
      this.text += rest;
      this.req.onToken?.({ id: -1, text: rest, logprob: 0, top: [] });
    }
    if (tail.stopped) this.finish = 'stop';
  }
}

interface Waiting {
  req: GenerateRequest;
  maxTokens: number;
  t0: number;
  resolve: (r: GenerateResult) => void;
  reject: (e: unknown) => void;
}

interface Live extends Waiting {
  seq: number;
  reply: Reply;
  /** Positions this sequence may reach: prompt + max_tokens, within the context. */
  reach: number;
  /** Prompt tokens reused from the engine's cache (not prefilled). */
  reused: number;
  tPrefill: number;
  tFirst: number;
}

export class ContinuousBatcher {
  private waiting: Waiting[] = [];
  private live = new Map<number, Live>();
  private loop: Promise<void> | null = null;
  private closed = false;

  constructor(
    readonly batch: BatchDecoder,
    private tokenizer: Tokenizer,
  ) {}

  /** Requests decoding now, and waiting for a row or blocks. */
  get stats(): { active: number; waiting: number; freeBlocks: number } {
    return { active: this.live.size, waiting: this.waiting.length, freeBlocks: this.batch.pool.alloc.freeBlocks };
  }

  /** Runs `req` in the batch (its prompt and max_tokens checked by the caller). */
  generate(req: GenerateRequest, maxTokens: number): Promise<GenerateResult> {
    if (this.closed) return Promise.reject(new HearthError('ENGINE_UNLOADED', 'This engine has been unloaded.', { hint: 'Create a new engine to load a model again.' }));
    return new Promise((resolve, reject) => {
      this.waiting.push({ req, maxTokens, t0: performance.now(), resolve, reject });
      this.loop ??= this.drive().finally(() => {
        this.loop = null;
      });
    });
  }

  /** Blocks the running sequences may still take. */
  private promised(): number {
    const a = this.batch.pool.alloc;
    let n = 0;
    for (const l of this.live.values()) n += a.blocksFor(l.reach) - a.table(l.seq).length;
    return n;
  }

  private async drive(): Promise<void> {
    while (!this.closed && (this.waiting.length > 0 || this.live.size > 0)) {
      await this.admit();
      for (const l of [...this.live.values()]) {
        if (l.req.signal?.aborted) this.end(l, new HearthError('ABORTED', 'The request was aborted.', { cause: l.req.signal.reason }));
      }
      if (this.live.size === 0) continue;
      let step;
      try {
        step = await this.batch.decode();
      } catch (e) {
        // the step failed as a whole (a lost device): every running request ends with it
        for (const l of [...this.live.values()]) this.end(l, e);
        continue;
      }
      for (const [seq, e] of step.refused) this.end(this.live.get(seq)!, e);
      for (const [seq, id] of step.next) {
        const l = this.live.get(seq);
        if (l) this.advance(l, id, step.logprobs.get(seq)!);
      }
    }
  }

  /** Admit waiting requests in order while rows and blocks allow (prefilling each solo). */
  private async admit(): Promise<void> {
    const a = this.batch.pool.alloc;
    while (this.waiting.length > 0 && this.live.size < this.batch.maxRows) {
      const w = this.waiting[0]!;
      if (w.req.signal?.aborted) {
        this.waiting.shift();
        w.reject(new HearthError('ABORTED', 'The request was aborted.', { cause: w.req.signal.reason }));
        continue;
      }
      const reach = Math.min(w.req.promptIds.length + w.maxTokens, this.batch.contextLength);
      const need = a.blocksFor(reach);
      if (need > a.blocks || reach > a.maxPositions) {
        this.waiting.shift();
        w.reject(new HearthError('KV_POOL_FULL', `A reply of up to ${reach} positions needs ${need} KV blocks; the pool has ${a.blocks}.`, { hint: 'Ask for fewer max_tokens, or start the server with a larger batch pool.' }));
        continue;
      }
      // back-pressure: wait for running sequences to end and free their blocks
      if (a.freeBlocks - this.promised() < need) return;
      this.waiting.shift();
      const tPrefill = performance.now();
      try {
        const { seq, first, logprob, reused } = await this.batch.add(w.req.promptIds, w.req.signal);
        const l: Live = { ...w, seq, reply: new Reply(w.req, this.tokenizer, w.maxTokens), reach, reused, tPrefill, tFirst: performance.now() };
        this.live.set(seq, l);
        if (w.maxTokens === 0) this.end(l);
        else this.advance(l, first, logprob);
      } catch (e) {
        w.reject(e);
      }
    }
  }

  private advance(l: Live, id: number, logprob: number): void {
    if (!l.reply.push(id, logprob) || this.batch.length(l.seq) >= this.batch.contextLength) this.end(l);
  }

  /** The request leaves the batch: its blocks return to the pool; it resolves, or rejects with `error`. */
  private end(l: Live, error?: unknown): void {
    this.live.delete(l.seq);
    this.batch.remove(l.seq);
    if (error !== undefined) {
      l.reject(error);
      return;
    }
    const r = l.reply;
    r.close();
    const now = performance.now();
    const prompt = l.req.promptIds.length;
    const decodeSteps = Math.max(0, r.ids.length - 1);
    const prefillMs = l.tFirst - l.tPrefill;
    const decodeMs = now - l.tFirst;
    l.resolve({
      ids: r.ids,
      text: r.text,
      finishReason: r.finish!,
      tokens: r.tokens,
      usage: { promptTokens: prompt, completionTokens: r.ids.length, totalTokens: prompt + r.ids.length, prefilledTokens: prompt - l.reused, reusedTokens: l.reused },
      timings: { prefillMs, decodeMs, ttftMs: l.tFirst - l.t0, prefillTokensPerSecond: (prompt - l.reused) / (prefillMs / 1000 || 1e-9), decodeTokensPerSecond: decodeSteps ? decodeSteps / (decodeMs / 1000) : 0 },
    });
  }

  /** Ends every request (ENGINE_UNLOADED) and waits for the loop to stop. */
  async close(): Promise<void> {
    this.closed = true;
    const gone = new HearthError('ENGINE_UNLOADED', 'This engine has been unloaded.', { hint: 'Create a new engine to load a model again.' });
    for (const w of this.waiting.splice(0)) w.reject(gone);
    await this.loop;
    for (const l of [...this.live.values()]) this.end(l, gone);
  }
}
