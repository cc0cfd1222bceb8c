import { HearthError } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { assertAlive, gpuFailure } from '../gpu/device.js';
import { Readback, readF32, writeBuffer } from '../gpu/buffers.js';
import { StepUniform, encodeDispatches, gridFor, type Dispatch, type StepParams } from '../gpu/dispatch.js';
import { GpuProfiler, type KernelTiming } from '../gpu/profiler.js';
import type { ModelConfig } from '../formats/config.js';
import { Forward, type ActivationMode } from '../models/forward.js';
import type { KvFormat } from '../kernels/kv_append.js';
import { destroyModelWeights, type ModelWeights } from '../models/weights.js';
import type { KvLayers } from '../models/state.js';
import { createSampler, decodeSampleResult, type Sampler, type SamplingParams, type SampleResult } from '../kernels/sample.js';
import { DEFAULT_SAMPLING, validateSampling } from '../kernels/sampling.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { StopStringMatcher } from './stop.js';
import { SerialQueue } from '../util/serial-queue.js';
import { identityWithoutWeights, type ModelIdentity } from './identity.js';
import type { TokenConstraint } from './constraint.js';
import { BatchDecoder, type BatchOptions, type Prefilled } from './batch.js';
import { ContinuousBatcher, batchable } from './continuous.js';
import type { KvPool } from '../models/kv-pool.js';

export { DEFAULT_SAMPLING, validateSampling } from '../kernels/sampling.js';

export interface GenerateRequest {
  promptIds: number[];
  /** Most tokens to generate; defaults to the rest of the context. */
  maxTokens?: number;
  sampling?: Partial<SamplingParams>;
  /** Same seed, same output. Random when absent. */
  seed?: number;
  /** Token ids that end generation (not emitted); defaults to the tokenizer's end-of-sequence ids. */
  stopIds?: number[];
  /** Strings that end generation (not emitted), even when split across tokens. */
  stopStrings?: string[];
  signal?: AbortSignal;
  onToken?: (e: TokenEvent) => void;
  /**
   * Constrained decoding (src/engine/constraint.ts): each token is drawn from the ids its mask
   * allows, stop ids only where it may stop; a request with one decodes step by step.
   */
  constraint?: TokenConstraint;
  /**
   * Run solo, in the engine's own KV cache, even when batching is on: the reply's K/V is then
   * the cached prefix (sessions store it from there).
   */
  solo?: boolean;
}

export interface TokenEvent {
  id: number;
  /** Text that became final with this token (may be empty while UTF-8 or a stop string is pending). */
  text: string;
  logprob: number;
  top: { id: number; logprob: number }[];
}

export type FinishReason = 'stop' | 'length';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Prompt tokens that ran through prefill in this request. */
  prefilledTokens: number;
  /** Prompt tokens whose KV cache was reused from earlier requests. */
  reusedTokens: number;
}

export interface Timings {
  prefillMs: number;
  decodeMs: number;
  /** Request start to first generated token. */
  ttftMs: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
}

export interface GenerateResult {
  ids: number[];
  text: string;
  finishReason: FinishReason;
  tokens: TokenEvent[];
  usage: Usage;
  timings: Timings;
}

export interface EngineInfo {
  model: string;
  architecture: string;
  config: ModelConfig;
  contextLength: number;
  adapter: GpuContext['adapterInfo'];
  features: GpuContext['features'];
  weightBytes: number;
  kvCacheBytes: number;
  /** How the KV cache holds its values (EngineLoadOptions.kvCache). */
  kvCache: KvFormat;
  /** GPU memory Hearth holds for this model (weights, KV cache, activations). 0 after unload. */
  memoryBytes: number;
  /** Kernel launches of one decode step at a short context, sampling as the last request did (greedy before any). */
  dispatchesPerToken: number;
  weightFormats: Record<string, number>;
  /** The GPU device was lost: every call fails with DEVICE_LOST; unload and create a new engine. */
  deviceLost: boolean;
}

/** K/V of a range of positions, as exportKv returns it: per layer [kvHeads, end - start, headDim] f32. */
export interface KvSlice {
  start: number;
  end: number;
  tokens: number[];
  layers: KvLayers[];
}

/** Launches among `dispatches` that a decode step records (non-empty grid; the sampler's as its last setParams left them). */
function activeLaunches(dispatches: readonly Dispatch[]): number {
  return dispatches.filter((d) => gridFor(d, { tokens: 1, pos: 0, kvLen: 1 }).every((n) => n > 0)).length;
}

/** A submitted step's sampled token, read back from its staging buffer when awaited. */
interface PendingSample {
  read(): Promise<SampleResult>;
}

/** Staging buffers for sampled tokens: one step ahead of the one being read, and one spare. */
const READBACK_RING = 3;

export interface EngineParts {
  ctx: GpuContext;
  modelId: string;
  config: ModelConfig;
  weights: ModelWeights;
  weightBytes: number;
  weightFormats: Record<string, number>;
  tokenizer: Tokenizer;
  contextLength: number;
  prefillChunk: number;
  /** How quantized matrices' inputs are computed (LlamaForward's ForwardOptions.activations); default 'f32'. */
  activations?: ActivationMode;
  /** The KV cache's format (ForwardOptions.kvCache); default 'f32'. */
  kvCache?: KvFormat;
  /** Fuse decode steps into the GEMVs (ForwardOptions.fuse); default true. */
  fuse?: boolean;
  /** What the weights are, for sessions that store this model's KV cache (loadEngine sets it). */
  identity?: ModelIdentity;
}

/** Mix a request seed and a step index into the per-step u32 seed the sampler hashes. */
export function stepSeed(seed: number, index: number): number {
  let h = Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca77);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}

/**
 * A loaded model on the GPU: runs prefill and decode, samples on the GPU, and keeps the KV
 * cache of the last sequence so a request that extends it (the next chat turn) prefills only
 * the new tokens. Requests run one at a time, in order.
 */
export class Engine {
  readonly ctx: GpuContext;
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  readonly contextLength: number;
  private forward: Forward;
  private sampler: Sampler;
  private step: StepUniform;
  private weights: ModelWeights | null;
  private idScratch: Uint32Array;
  private ring: Readback[];
  private ringAt = 0;
  private queue = new SerialQueue();
  /** Tokens whose K/V sit in the cache, in order: the reusable prefix. */
  private cached: number[] = [];
  private parts: EngineParts;
  private unloaded = false;
  /** Continuous batching, when enabled. */
  private batcher: ContinuousBatcher | null = null;

  constructor(parts: EngineParts) {
    this.parts = parts;
    this.ctx = parts.ctx;
    this.config = parts.config;
    this.tokenizer = parts.tokenizer;
    this.contextLength = parts.contextLength;
    this.weights = parts.weights;
    this.step = new StepUniform(this.ctx);
    this.forward = new Forward(this.ctx, parts.config, parts.weights, { maxTokens: parts.prefillChunk, contextLength: parts.contextLength, activations: parts.activations, kvCache: parts.kvCache, fuse: parts.fuse }, this.step.buffer);
    this.sampler = createSampler(this.ctx, { step: this.step.buffer, logits: this.forward.act.logits, vocab: parts.config.vocabSize, maxTopLogprobs: 20 });
    this.idScratch = new Uint32Array(parts.prefillChunk);
    this.ring = Array.from({ length: READBACK_RING }, (_, i) => new Readback(this.ctx, this.sampler.resultBytes!, `sample.readback.${i}`));
  }

  get info(): EngineInfo {
    const kv = this.unloaded ? 0 : this.forward.kvBytes;
    // (the batch's KV pool and working buffers, when batching is on)
    const acts = this.unloaded ? 0 : this.forward.act.bytes + (this.batcher?.batch.bytes ?? 0);
    const weightBytes = this.unloaded ? 0 : this.parts.weightBytes;
    return {
      model: this.parts.modelId,
      architecture: this.config.architecture,
      config: this.config,
      contextLength: this.contextLength,
      adapter: this.ctx.adapterInfo,
      features: this.ctx.features,
      weightBytes,
      kvCacheBytes: kv,
      kvCache: this.forward.kv.format,
      memoryBytes: weightBytes + kv + acts,
      dispatchesPerToken: this.unloaded ? 0 : this.forward.dispatchCount(1) + activeLaunches(this.sampler.dispatches),
      weightFormats: this.parts.weightFormats,
      deviceLost: this.ctx.lost !== null,
    };
  }

  /** The loaded model's identity: stored KV caches are reused only by a model with the same fingerprint. */
  get identity(): ModelIdentity {
    this.parts.identity ??= identityWithoutWeights(this.parts.modelId, this.config);
    return this.parts.identity;
  }

  /** Tokens currently held in the KV cache (the reusable prefix). */
  get cachedTokens(): readonly number[] {
    return this.cached;
  }

  generate(req: GenerateRequest): Promise<GenerateResult> {
    const batcher = this.batcher;
    if (batcher && !req.solo) {
      let maxTokens: number | null;
      try {
        maxTokens = this.batchedMaxTokens(req);
      } catch (e) {
        return Promise.reject(e);
      }
      if (maxTokens !== null) {
        return batcher.generate(req, maxTokens).catch(async (e: unknown) => {
          throw await gpuFailure(this.ctx, e);
        });
      }
    }
    return this.guarded(() => this.run(req));
  }

  /**
   * Continuous batching from now on (engine/continuous.ts): greedy requests without top logprobs or
   * a grammar decode together, up to `maxRows` at once, joining and leaving between steps; the
   * others run solo as before. Greedy replies are the same either way.
   */
  enableBatching(opts: BatchOptions): void {
    this.checkUsable();
    if (this.batcher) throw new HearthError('INVALID_ARGUMENT', 'Batching is already on for this engine.', { hint: 'Call enableBatching once per engine.' });
    this.batcher = new ContinuousBatcher(this.createBatch(opts), this.tokenizer);
  }

  /** The batch's state (null when batching is off). */
  get batching(): { maxRows: number; active: number; waiting: number; freeBlocks: number; blocks: number } | null {
    const b = this.batcher;
    return b ? { maxRows: b.batch.maxRows, blocks: b.batch.pool.alloc.blocks, ...b.stats } : null;
  }

  /** A request's max_tokens when it can decode in the batch (checked as run checks it), else null. */
  private batchedMaxTokens(req: GenerateRequest): number | null {
    this.checkUsable();
    this.checkPrompt(req.promptIds);
    const sampling = validateSampling({ ...DEFAULT_SAMPLING, ...req.sampling });
    if (!batchable(req, sampling)) return null;
    const maxTokens = req.maxTokens ?? this.contextLength - req.promptIds.length;
    if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new HearthError('INVALID_ARGUMENT', `max_tokens must be a non-negative integer, got ${req.maxTokens}.`);
    if (req.signal?.aborted) throw new HearthError('ABORTED', 'The request was aborted.', { cause: req.signal.reason });
    return maxTokens;
  }

  /** Run the forward pass over `tokens` and the sampler (as the last request set it) once; return the per-kernel GPU times (for benchmarks). */
  profile(tokens: number[], pos = 0): Promise<KernelTiming[]> {
    return this.guarded(async () => {
      this.checkUsable();
      const prof = new GpuProfiler(this.ctx);
      this.idScratch.set(tokens);
      writeBuffer(this.ctx, this.forward.act.ids, 0, this.idScratch.subarray(0, tokens.length));
      const step: StepParams = { tokens: tokens.length, pos, kvLen: pos + tokens.length, seed: 1 };
      this.step.write(step);
      const enc = this.ctx.device.createCommandEncoder();
      encodeDispatches(enc, [...this.forward.dispatches, ...this.sampler.dispatches], step, prof);
      prof.resolve(enc);
      this.ctx.device.queue.submit([enc.finish()]);
      const t = await prof.read();
      prof.destroy();
      this.cached = [];
      return t;
    });
  }

  /** Runs `task` in the queue; a failure caused by a lost device becomes DEVICE_LOST. */
  private guarded<T>(task: () => Promise<T>): Promise<T> {
    return this.queue.run(task).catch(async (e: unknown) => {
      throw await gpuFailure(this.ctx, e);
    });
  }

  private checkUsable(): void {
    if (this.unloaded) throw new HearthError('ENGINE_UNLOADED', 'This engine has been unloaded.', { hint: 'Create a new engine to load a model again.' });
    assertAlive(this.ctx);
  }

  /** A prompt the model can take: non-empty ids of its vocabulary, leaving room for a reply. */
  private checkPrompt(prompt: readonly number[]): void {
    if (!Array.isArray(prompt) || prompt.length === 0) {
      throw new HearthError('EMPTY_PROMPT', 'The prompt is empty.', { hint: 'Give at least one token or a non-empty message.' });
    }
    const vocab = this.config.vocabSize;
    for (const id of prompt) {
      if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new HearthError('INVALID_ARGUMENT', `Prompt token id ${id} is outside the vocabulary (0..${vocab - 1}).`);
    }
    if (prompt.length >= this.contextLength) {
      throw new HearthError('CONTEXT_OVERFLOW', `The prompt has ${prompt.length} tokens, but the context holds ${this.contextLength} (at least one must remain for the reply).`, {
        hint: 'Shorten the conversation or load the model with a larger contextLength.',
        details: { promptTokens: prompt.length, contextLength: this.contextLength },
      });
    }
  }

  private async run(req: GenerateRequest): Promise<GenerateResult> {
    this.checkUsable();
    const t0 = performance.now();
    const prompt = req.promptIds;
    this.checkPrompt(prompt);
    const sampling = validateSampling({ ...DEFAULT_SAMPLING, ...req.sampling });
    const room = this.contextLength - prompt.length;
    const maxTokens = req.maxTokens ?? room;
    if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new HearthError('INVALID_ARGUMENT', `max_tokens must be a non-negative integer, got ${req.maxTokens}.`);
    const seed = req.seed ?? (Math.random() * 2 ** 32) >>> 0;
    const stopIds = new Set(req.stopIds ?? this.tokenizer.eosIds);
    const signal = req.signal;
    const abortCheck = () => {
      if (signal?.aborted) throw new HearthError('ABORTED', 'The request was aborted.', { cause: signal.reason });
    };
    abortCheck();

    // Reuse the cached prefix; always run at least the last prompt token to get its logits.
    let reuse = 0;
    while (reuse < this.cached.length && reuse < prompt.length - 1 && this.cached[reuse] === prompt[reuse]) reuse++;
    this.cached = this.cached.slice(0, reuse);

    this.sampler.setParams(sampling);
    const constraint = req.constraint;
    this.sampler.setMask(constraint?.nextMask() ?? null);
    this.sampler.resetCounts();
    if (sampling.repetitionPenalty !== 1 || sampling.frequencyPenalty !== 0 || sampling.presencePenalty !== 0) this.sampler.addCounts(prompt);

    // Prefill in chunks; the last chunk also samples the first token.
    const tPrefill = performance.now();
    let pos = reuse;
    let first: PendingSample | null = null;
    while (pos < prompt.length) {
      abortCheck();
      const n = Math.min(this.parts.prefillChunk, prompt.length - pos);
      const last = pos + n === prompt.length;
      const chunk = prompt.slice(pos, pos + n);
      first = this.submit(chunk, pos, last && maxTokens > 0 ? stepSeed(seed, 0) : null);
      // the last chunk's sampled token is read back by the decode loop below
      if (!first) await this.ctx.device.queue.onSubmittedWorkDone();
      this.cached.push(...chunk);
      pos += n;
    }
    // until the first token is back (the prefill's GPU work), then decode: set when it is read
    let prefillMs = performance.now() - tPrefill;
    const prefilled = prompt.length - reuse;

    const ids: number[] = [];
    const tokens: TokenEvent[] = [];
    const decoder = this.tokenizer.createStreamDecoder({ skipSpecialTokens: true });
    const stops = new StopStringMatcher(req.stopStrings ?? []);
    let text = '';
    let finishReason: FinishReason = 'length';
    let ttftMs = 0;
    let tDecode = performance.now();
    // Decode stays on the GPU: each step's sampler leaves its token where the next step's embedding
    // reads it, and that next step is submitted before the token is read back, so the GPU never
    // waits for the CPU between tokens. Stops are seen one step late: the step already submitted
    // for a token that turns out to end the reply is discarded (its K/V lies past the cached
    // tokens, to be overwritten). A constraint's mask depends on the token: it decodes step by step.
    let cur = first;
    let ahead: PendingSample | null = null;
    try {
      for (let i = 0; i < maxTokens && cur; i++) {
        // the same limits as below, known before the token is
        const more = i + 1 < maxTokens && pos < this.contextLength;
        ahead = !constraint && more ? this.submit(null, pos, stepSeed(seed, i + 1)) : null;
        const next = await cur.read();
        if (i === 0) {
          tDecode = performance.now();
          ttftMs = tDecode - t0;
          prefillMs = tDecode - tPrefill;
        }
        const id = next.token;
        if (stopIds.has(id)) {
          finishReason = 'stop';
          break;
        }
        constraint?.accept(id);
        ids.push(id);
        const { emit, stopped } = stops.push(decoder.push(id));
        // under a mask, fewer tokens may be allowed than top logprobs asked for: the rest are not candidates
        const ev: TokenEvent = { id, text: emit, logprob: next.logprob, top: constraint ? next.top.filter((t) => t.logprob > -1e30) : next.top };
        text += emit;
        tokens.push(ev);
        req.onToken?.(ev);
        if (stopped || constraint?.isTerminated()) {
          finishReason = 'stop';
          break;
        }
        if (i + 1 >= maxTokens) break;
        if (pos >= this.contextLength) break; // context full
        abortCheck();
        if (!ahead) {
          if (constraint) this.sampler.setMask(constraint.nextMask());
          ahead = this.submit([id], pos, stepSeed(seed, i + 1));
        }
        this.cached.push(id);
        pos++;
        cur = ahead;
        ahead = null;
      }
    } finally {
      // a step submitted ahead and not used: let it finish, so its staging buffer is free again
      if (ahead) await ahead.read().catch(() => undefined);
    }
    {
      if (finishReason !== 'stop') {
        const tail = stops.push(decoder.flush());
        const rest = tail.emit + (tail.stopped ? '' : stops.flush());
        if (rest) {
          text += rest;
          const ev: TokenEvent = { id: -1, text: rest, logprob: 0, top: [] };
          req.onToken?.(ev);
        }
        if (tail.stopped) finishReason = 'stop';
      }
    }
    const decodeMs = performance.now() - tDecode;
    const decodeSteps = Math.max(0, ids.length - 1);
    return {
      ids,
      text,
      finishReason,
      tokens,
      usage: {
        promptTokens: prompt.length,
        completionTokens: ids.length,
        totalTokens: prompt.length + ids.length,
        prefilledTokens: prefilled,
        reusedTokens: reuse,
      },
      timings: {
        prefillMs,
        decodeMs,
        ttftMs,
        prefillTokensPerSecond: prefilled / (prefillMs / 1000 || 1e-9),
        decodeTokensPerSecond: decodeSteps ? decodeSteps / (decodeMs / 1000) : 0,
      },
    };
  }

  /**
   * One submit: write ids (null: the one token the previous step's sampler left in the ids
   * buffer) and the step uniform, record the forward pass and, with a seed, the sampling, whose
   * token is copied where the next step's embedding reads it and into a staging buffer of the
   * ring. Returns at once; read() maps the staging buffer.
   */
  private submit(ids: number[] | null, pos: number, seed: number): PendingSample;
  private submit(ids: number[], pos: number, seed: number | null): PendingSample | null;
  private submit(ids: number[] | null, pos: number, seed: number | null): PendingSample | null {
    assertAlive(this.ctx);
    const n = ids ? ids.length : 1;
    if (ids) {
      this.idScratch.set(ids);
      writeBuffer(this.ctx, this.forward.act.ids, 0, this.idScratch.subarray(0, n));
    }
    const step: StepParams = { tokens: n, pos, kvLen: pos + n, seed: seed ?? 0 };
    this.step.write(step);
    const enc = this.ctx.device.createCommandEncoder();
    encodeDispatches(enc, this.forward.dispatches, step);
    let slot: Readback | null = null;
    if (seed !== null) {
      encodeDispatches(enc, this.sampler.dispatches, step);
      enc.copyBufferToBuffer(this.sampler.resultBuffer!, 0, this.forward.act.ids, 0, 4);
      slot = this.ring[this.ringAt]!;
      this.ringAt = (this.ringAt + 1) % this.ring.length;
      slot.copyFrom(enc, this.sampler.resultBuffer!);
    }
    this.ctx.device.queue.submit([enc.finish()]);
    if (!slot) return null;
    const read = slot.read().then(decodeSampleResult);
    // a step that fails is reported by the read that awaits it; an unread one must not be unhandled
    read.catch(() => undefined);
    return { read: () => read };
  }

  /** Run `tokens` from position 0 and return the last token's raw logits (for tests and the kernel lab). */
  logits(tokens: number[]): Promise<Float32Array> {
    return this.guarded(async () => {
      this.checkUsable();
      if (!tokens.length || tokens.length >= this.contextLength) throw new HearthError('INVALID_ARGUMENT', `logits() needs 1..${this.contextLength - 1} tokens.`);
      this.cached = [];
      for (let pos = 0; pos < tokens.length; pos += this.parts.prefillChunk) {
        const chunk = tokens.slice(pos, pos + this.parts.prefillChunk);
        await this.submit(chunk, pos, null);
        this.cached.push(...chunk);
      }
      return readF32(this.ctx, this.forward.act.logits, this.config.vocabSize);
    });
  }

  /**
   * Teacher forcing: run `tokens` from position 0 as one prefill (in chunks) and return, for
   * each position p in [from, tokens.length), what the model predicted there having seen
   * tokens[0, p): the log-probability of tokens[p], the most likely token, and the `topK` most
   * likely (id, log-probability). Checks a whole reference continuation in one pass instead of
   * one decode step per token (agreement with llama.cpp, perplexity). Leaves `tokens` cached.
   */
  score(tokens: readonly number[], from = 1, topK = 5): Promise<TokenScore[]> {
    return this.guarded(async () => {
      this.checkUsable();
      const n = tokens.length;
      const vocab = this.config.vocabSize;
      if (n < 2 || n >= this.contextLength) throw new HearthError('INVALID_ARGUMENT', `score() needs 2..${this.contextLength - 1} tokens, got ${n}.`);
      if (!(Number.isInteger(from) && from >= 1 && from < n)) throw new HearthError('INVALID_ARGUMENT', `score(): from must be in 1..${n - 1}, got ${from}.`);
      if (!(Number.isInteger(topK) && topK >= 1 && topK <= vocab)) throw new HearthError('INVALID_ARGUMENT', `score(): topK must be in 1..${vocab}, got ${topK}.`);
      for (const id of tokens) if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new HearthError('INVALID_ARGUMENT', `Token id ${id} is outside the vocabulary (0..${vocab - 1}).`);
      const every = this.forward.logitsOfEveryRow();
      const chunk = Math.min(this.parts.prefillChunk, every.rows);
      const out: TokenScore[] = [];
      this.cached = [];
      for (let pos = 0; pos < n - 1; pos += chunk) {
        // the rows of this chunk predict positions pos + 1 .. pos + m
        const ids = tokens.slice(pos, Math.min(pos + chunk, n - 1));
        const m = ids.length;
        this.idScratch.set(ids);
        writeBuffer(this.ctx, this.forward.act.ids, 0, this.idScratch.subarray(0, m));
        const step: StepParams = { tokens: m, pos, kvLen: pos + m, seed: 0 };
        this.step.write(step);
        const enc = this.ctx.device.createCommandEncoder();
        encodeDispatches(enc, [...this.forward.dispatches, ...every.dispatches], step);
        this.ctx.device.queue.submit([enc.finish()]);
        this.cached.push(...ids);
        const first = Math.max(0, from - 1 - pos);
        if (first >= m) continue;
        const logits = await readF32(this.ctx, every.logits, (m - first) * vocab, first * vocab);
        for (let r = 0; r < m - first; r++) out.push(scoreRow(logits.subarray(r * vocab, (r + 1) * vocab), tokens[pos + first + r + 1]!, topK));
      }
      return out;
    });
  }

  /**
   * Copy the K/V cache of positions [start, end) back to the CPU: per layer, K and V as
   * [kvHeads, end - start, headDim] f32. For persisting sessions.
   */
  exportKv(start: number, end: number): Promise<KvSlice> {
    return this.guarded(async () => {
      this.checkUsable();
      if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= this.cached.length)) {
        throw new HearthError('INVALID_ARGUMENT', `exportKv(${start}, ${end}): the cache holds ${this.cached.length} tokens.`);
      }
      const layers = await this.forward.kv.read(start, end);
      return { start, end, tokens: this.cached.slice(start, end), layers };
    });
  }

  /**
   * Write K/V for positions [slice.start, slice.end) into the cache and declare that the cache
   * now holds `prefix` (the tokens before slice.start, already in place) followed by slice.tokens.
   * Slices are imported in order; the first starts at 0 with an empty prefix.
   */
  async importKv(slice: KvSlice, prefix: readonly number[]): Promise<void> {
    if (prefix.length !== slice.start) {
      throw new HearthError('INVALID_ARGUMENT', 'importKv: the slice does not start where the prefix ends.', { hint: 'Import slices in order, into an engine with the same model and a context at least as long.' });
    }
    if (!(await this.restoreKv([...prefix, ...slice.tokens], slice.start, slice.end > slice.start ? [slice] : []))) {
      throw new HearthError('INVALID_ARGUMENT', 'importKv: the cache no longer holds the given prefix.', { hint: 'Import slices in order, with no other request in between.' });
    }
  }

  /**
   * Make the cache hold `tokens`, writing positions [from, tokens.length) from `slices` (in order,
   * tiling that range) in one queued step, so no other request can change the cache halfway.
   * Positions before `from` must already hold tokens[0, from): checked in that same step, and when
   * they no longer do (another request ran since the caller looked), nothing is written and the
   * result is false. For sessions restoring stored KV.
   */
  restoreKv(tokens: readonly number[], from: number, slices: KvSlice[]): Promise<boolean> {
    return this.guarded(async () => {
      this.checkUsable();
      const c = this.config;
      let at = from;
      for (const s of slices) {
        const per = this.forward.kv.floatsFor(s.end - s.start);
        if (s.start !== at || s.end <= s.start || s.tokens.length !== s.end - s.start || s.layers.length !== c.numLayers || s.layers.some((l) => l.k.length !== per || l.v.length !== per)) {
          throw new HearthError('INVALID_ARGUMENT', 'restoreKv: the slices do not tile the range or do not fit this model.');
        }
        at = s.end;
      }
      if (at !== tokens.length || tokens.length > this.contextLength) throw new HearthError('INVALID_ARGUMENT', `restoreKv: the slices end at ${at}, not at ${tokens.length} (context ${this.contextLength}).`);
      for (let i = 0; i < from; i++) if (this.cached[i] !== tokens[i]) return false;
      for (const s of slices) this.forward.kv.write(s.start, s.end - s.start, s.layers);
      await this.ctx.device.queue.onSubmittedWorkDone();
      this.cached = [...tokens];
      return true;
    });
  }

  /**
   * Batched decoding over this engine's weights (engine/batch.ts): a pool of KV blocks and a
   * forward pass over several sequences at once. Destroy it before unloading the engine.
   */
  createBatch(opts: BatchOptions): BatchDecoder {
    this.checkUsable();
    if (this.forward.kv.format !== 'f32') {
      throw new HearthError('INVALID_ARGUMENT', `Batched decoding keeps K/V in f32 blocks; this engine's cache is ${this.forward.kv.format}.`, { hint: "Load the model with kvCache: 'f32' to batch it." });
    }
    return new BatchDecoder(this.ctx, this.config, this.weights!, this.contextLength, opts, (pool, seq, prompt, signal) => this.prefillInto(pool, seq, prompt, signal), this.parts.activations);
  }

  /**
   * Prefill `prompt` solo (in chunks, reusing the cached prefix as generate does) and copy its K/V
   * into the blocks of `seq` in `pool` (taken here: KV_POOL_FULL when too few are free); returns the
   * greedy first token. The engine's cache keeps the prompt as its reusable prefix.
   */
  prefillInto(pool: KvPool, seq: number, prompt: readonly number[], signal?: AbortSignal): Promise<Prefilled> {
    return this.guarded(async () => {
      this.checkUsable();
      this.checkPrompt(prompt);
      if (signal?.aborted) throw new HearthError('ABORTED', 'The request was aborted.', { cause: signal.reason });
      if (this.forward.kv.format !== 'f32') {
        throw new HearthError('INVALID_ARGUMENT', `Batched decoding keeps K/V in f32 blocks; this engine's cache is ${this.forward.kv.format}.`, { hint: "Load the model with kvCache: 'f32' to batch it." });
      }
      pool.alloc.reserve(seq, prompt.length);
      let reuse = 0;
      while (reuse < this.cached.length && reuse < prompt.length - 1 && this.cached[reuse] === prompt[reuse]) reuse++;
      this.cached = this.cached.slice(0, reuse);
      this.sampler.setParams(validateSampling({ ...DEFAULT_SAMPLING, temperature: 0 }));
      this.sampler.setMask(null);
      this.sampler.resetCounts();
      let first: PendingSample | null = null;
      for (let pos = reuse; pos < prompt.length; ) {
        const n = Math.min(this.parts.prefillChunk, prompt.length - pos);
        const chunk = prompt.slice(pos, pos + n);
        first = this.submit(chunk, pos, pos + n === prompt.length ? 0 : null);
        if (!first) await this.ctx.device.queue.onSubmittedWorkDone();
        this.cached.push(...chunk);
        pos += n;
      }
      const { token, logprob } = await first!.read();
      const enc = this.ctx.device.createCommandEncoder();
      pool.copyFromCache(enc, this.forward.kv, seq, prompt.length);
      this.ctx.device.queue.submit([enc.finish()]);
      return { token, logprob, reused: reuse };
    });
  }

  /** Forget the cached prefix (the next request prefills from scratch). */
  resetCache(): void {
    this.cached = [];
  }

  /** Free every GPU buffer of this model. The engine cannot be used afterwards. */
  async unload(): Promise<void> {
    const batcher = this.batcher;
    this.batcher = null;
    if (batcher) {
      // (outside the queue: the batch's prefills run in it)
      await batcher.close();
      batcher.batch.destroy();
    }
    await this.queue.run(async () => {
      if (this.unloaded) return;
      this.unloaded = true;
      this.forward.destroy();
      this.sampler.destroy();
      for (const r of this.ring) r.destroy();
      this.step.destroy();
      if (this.weights) destroyModelWeights(this.weights);
      this.weights = null;
      this.cached = [];
    });
  }
}

export interface TokenScore {
  /** The token that stands at this position. */
  id: number;
  /** Its log-probability under the model. */
  logprob: number;
  /** The model's most likely tokens here, most likely first, as (id, log-probability). */
  top: { id: number; logprob: number }[];
}

/** Log-softmax of one row of logits, read out at `id` and at the `k` largest. */
function scoreRow(logits: Float32Array, id: number, k: number): TokenScore {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const lse = max + Math.log(sum);
  // the k largest by insertion into a short sorted list (k is small)
  const top: { id: number; logprob: number }[] = [];
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (top.length === k && v <= top[k - 1]!.logprob) continue;
    let j = top.length < k ? top.length : k - 1;
    if (top.length < k) top.push({ id: i, logprob: v });
    while (j > 0 && top[j - 1]!.logprob < v) {
      top[j] = top[j - 1]!;
      j--;
    }
    top[j] = { id: i, logprob: v };
  }
  for (const t of top) t.logprob -= lse;
  return { id, logprob: logits[id]! - lse, top };
}

