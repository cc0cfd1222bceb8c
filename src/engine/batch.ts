/**
 * Batched decoding: several sequences decoded together, one forward pass per step over all of
 * them (models/batch.ts), their K/V in one paged pool (models/kv-pool.ts). A newcomer is
 * prefilled solo, in chunks, through the engine's own forward pass and KV cache, and its
 * positions are then copied into its blocks (Engine.prefillInto); from there it decodes in the
 * batch. Sequences join and leave between steps (continuous batching); leaving frees the blocks.
 *
 * Sampling in the batch is greedy (argmax per row, on the GPU): requests with other sampling,
 * penalties, logprobs or a grammar run solo (Engine.generate).
 */
import { HearthError, check } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { assertAlive } from '../gpu/device.js';
import { Readback } from '../gpu/buffers.js';
import { StepUniform, encodeDispatches, type StepParams } from '../gpu/dispatch.js';
import type { ModelConfig } from '../formats/config.js';
import type { ModelWeights } from '../models/weights.js';
import type { ActivationMode } from '../models/forward.js';
import { KvPool } from '../models/kv-pool.js';
import { BatchForward, type BatchRow } from '../models/batch.js';

export interface BatchOptions {
  /** Sequences decoded together at most (the M of each step's matmuls). */
  maxRows: number;
  /** Positions per KV block (default 16). */
  blockSize?: number;
  /** Blocks in the pool (default: enough for maxRows sequences of the full context). */
  blocks?: number;
}

/** What a solo prefill into the pool gives: the first (greedy) token, its log-probability, prompt tokens reused from the engine's cache. */
export interface Prefilled {
  token: number;
  logprob: number;
  reused: number;
}

/** Solo prefill of `prompt` into the blocks of `seq`. */
export type PrefillInto = (pool: KvPool, seq: number, prompt: readonly number[], signal?: AbortSignal) => Promise<Prefilled>;

interface Running {
  /** Position of `token`, the next input (= tokens whose K/V are in the pool). */
  pos: number;
  token: number;
}

export class BatchDecoder {
  readonly pool: KvPool;
  private forward: BatchForward;
  private step: StepUniform;
  private readback: Readback;
  private running = new Map<number, Running>();
  private nextSeq = 0;
  private destroyed = false;

  constructor(
    private ctx: GpuContext,
    config: ModelConfig,
    weights: ModelWeights,
    readonly contextLength: number,
    opts: BatchOptions,
    private prefill: PrefillInto,
    activations: ActivationMode = 'f32',
  ) {
    check(Number.isInteger(opts.maxRows) && opts.maxRows >= 1, `A batch takes at least one sequence, got maxRows ${opts.maxRows}.`);
    const blockSize = opts.blockSize ?? 16;
    const blocks = opts.blocks ?? opts.maxRows * Math.ceil(contextLength / blockSize);
    this.pool = new KvPool(ctx, config, { blockSize, blocks, maxPositions: contextLength });
    this.step = new StepUniform(ctx);
    this.forward = new BatchForward(ctx, config, weights, this.pool, opts.maxRows, this.step.buffer, activations);
    this.readback = new Readback(ctx, opts.maxRows * 8, 'batch.readback');
  }

  get maxRows(): number {
    return this.forward.maxRows;
  }

  /** Sequences in the batch. */
  get active(): number {
    return this.running.size;
  }

  /** GPU memory of the pool and the batch's working buffers. */
  get bytes(): number {
    return this.pool.bytes + this.forward.bytes;
  }

  /**
   * Prefill `prompt` solo into a new sequence's blocks and return it with its first token (greedy).
   * KV_POOL_FULL when its blocks are not free (nothing is taken: retry after a sequence ends).
   */
  async add(prompt: readonly number[], signal?: AbortSignal): Promise<{ seq: number; first: number; logprob: number; reused: number }> {
    this.checkUsable();
    if (this.running.size >= this.maxRows) {
      throw new HearthError('KV_POOL_FULL', `The batch already decodes ${this.maxRows} sequences.`, { hint: 'Add the sequence after one of them ends.' });
    }
    const seq = this.nextSeq++;
    try {
      const p = await this.prefill(this.pool, seq, prompt, signal);
      this.running.set(seq, { pos: prompt.length, token: p.token });
      return { seq, first: p.token, logprob: p.logprob, reused: p.reused };
    } catch (e) {
      this.pool.alloc.release(seq);
      throw e;
    }
  }

  /** Positions `seq` holds (prompt and generated tokens whose K/V are in the pool). */
  length(seq: number): number {
    const r = this.running.get(seq);
    if (!r) throw new HearthError('INVALID_ARGUMENT', `No sequence ${seq} in the batch.`, { hint: 'Add it first; a removed sequence is gone.' });
    return r.pos;
  }

  /**
   * One decode step of every sequence in the batch (or of `only`): each row's last token goes
   * through the model at its position; returns each sequence's next token (greedy) and its log-probability. A sequence
   * that would pass the context or whose next block is not free is left out of the step and
   * reported in `refused` with its error (remove it; the others go on).
   */
  async decode(only?: readonly number[]): Promise<{ next: Map<number, number>; logprobs: Map<number, number>; refused: Map<number, HearthError> }> {
    this.checkUsable();
    assertAlive(this.ctx);
    const refused = new Map<number, HearthError>();
    const rows: BatchRow[] = [];
    for (const seq of only ?? [...this.running.keys()]) {
      const r = this.running.get(seq);
      if (!r) throw new HearthError('INVALID_ARGUMENT', `No sequence ${seq} in the batch.`, { hint: 'Add it first; a removed sequence is gone.' });
      try {
        this.pool.alloc.reserve(seq, r.pos + 1);
        rows.push({ seq, token: r.token, pos: r.pos });
      } catch (e) {
        if (e instanceof HearthError) refused.set(seq, e);
        else throw e;
      }
    }
    const next = new Map<number, number>();
    const logprobs = new Map<number, number>();
    if (rows.length === 0) return { next, logprobs, refused };
    this.forward.setRows(rows);
    const step: StepParams = { tokens: rows.length, pos: 0, kvLen: 0 };
    this.step.write(step);
    const enc = this.ctx.device.createCommandEncoder();
    encodeDispatches(enc, this.forward.dispatches, step);
    enc.copyBufferToBuffer(this.forward.next, 0, this.readback.buffer, 0, rows.length * 8);
    this.ctx.device.queue.submit([enc.finish()]);
    const bytes = await this.readback.read();
    const ids = new Uint32Array(bytes);
    const lps = new Float32Array(bytes);
    rows.forEach((row, i) => {
      const r = this.running.get(row.seq);
      // (a sequence removed while the step ran: its blocks are already free)
      if (!r) return;
      r.pos++;
      r.token = ids[2 * i]!;
      next.set(row.seq, ids[2 * i]!);
      logprobs.set(row.seq, lps[2 * i + 1]!);
    });
    return { next, logprobs, refused };
  }

  /** The sequence leaves the batch; its blocks return to the pool. */
  remove(seq: number): void {
    this.running.delete(seq);
    this.pool.alloc.release(seq);
  }

  private checkUsable(): void {
    if (this.destroyed) throw new HearthError('ENGINE_UNLOADED', 'This batch was destroyed.', { hint: 'Create a new batch from the engine.' });
  }

  /** Free the pool and the batch's buffers (not the weights: they are the engine's). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.running.clear();
    this.forward.destroy();
    this.pool.destroy();
    this.step.destroy();
    this.readback.destroy();
  }
}
