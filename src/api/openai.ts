import { HearthError } from '../errors.js';
import { pushToPull } from '../util/push-stream.js';
import type { Engine, GenerateRequest, GenerateResult, TokenEvent } from '../engine/engine.js';
import type { SamplingParams } from '../kernels/sample.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
  Completion,
  CompletionChunk,
  CompletionCreateParams,
  CompletionUsage,
  HearthExtras,
  SamplingFields,
  TokenLogprob,
} from './types.js';

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface ChatCompletions {
  create(params: ChatCompletionCreateParams & { stream: true }, options?: RequestOptions): Promise<AsyncIterable<ChatCompletionChunk>>;
  create(params: ChatCompletionCreateParams & { stream?: false | null }, options?: RequestOptions): Promise<ChatCompletion>;
  create(params: ChatCompletionCreateParams, options?: RequestOptions): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
}

export interface Completions {
  create(params: CompletionCreateParams & { stream: true }, options?: RequestOptions): Promise<AsyncIterable<CompletionChunk>>;
  create(params: CompletionCreateParams & { stream?: false | null }, options?: RequestOptions): Promise<Completion>;
  create(params: CompletionCreateParams, options?: RequestOptions): Promise<Completion | AsyncIterable<CompletionChunk>>;
}

export interface OpenAIApi {
  chat: { completions: ChatCompletions };
  completions: Completions;
}

let counter = 0;
const newId = (prefix: string) => `${prefix}-${Date.now().toString(36)}${(counter++).toString(36)}`;
const now = () => Math.floor(Date.now() / 1000);

function num(v: number | null | undefined, fallback: number): number {
  return v === null || v === undefined ? fallback : v;
}

/** OpenAI sampling fields to the engine's request. */
export function toGenerateRequest(engine: Engine, p: SamplingFields, promptIds: number[], topLogprobs: number, signal?: AbortSignal): GenerateRequest {
  const sampling: Partial<SamplingParams> = {
    temperature: num(p.temperature, 1),
    topP: num(p.top_p, 1),
    topK: num(p.top_k, 0),
    minP: num(p.min_p, 0),
    frequencyPenalty: num(p.frequency_penalty, 0),
    presencePenalty: num(p.presence_penalty, 0),
    repetitionPenalty: num(p.repetition_penalty, 1),
    topLogprobs,
  };
  const stop = p.stop === null || p.stop === undefined ? [] : typeof p.stop === 'string' ? [p.stop] : p.stop;
  if (stop.length > 4 * 4 || stop.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new HearthError('INVALID_ARGUMENT', 'stop must be a non-empty string or a list of non-empty strings.');
  }
  const maxTokens = p.max_completion_tokens ?? p.max_tokens ?? undefined;
  const stopIds = p.ignore_eos ? [...(p.stop_token_ids ?? [])] : [...engine.tokenizer.eosIds, ...(p.stop_token_ids ?? [])];
  return {
    promptIds,
    maxTokens: maxTokens === null ? undefined : maxTokens,
    sampling,
    seed: p.seed ?? undefined,
    stopIds,
    stopStrings: stop,
    signal: signal ?? p.signal,
  };
}

/** OpenAI's usage of a generation (cached_tokens: the prompt tokens reused from the KV cache). */
export function usageOf(r: GenerateResult): CompletionUsage {
  return {
    prompt_tokens: r.usage.promptTokens,
    completion_tokens: r.usage.completionTokens,
    total_tokens: r.usage.totalTokens,
    prompt_tokens_details: { cached_tokens: r.usage.reusedTokens },
  };
}

/** What Hearth adds under `hearth`: ids, prefilled vs reused tokens, timings. */
export function extrasOf(promptIds: number[], r: GenerateResult): HearthExtras {
  return {
    prompt_ids: promptIds,
    ids: r.ids,
    prefilled_tokens: r.usage.prefilledTokens,
    reused_tokens: r.usage.reusedTokens,
    timings: {
      prefill_ms: r.timings.prefillMs,
      decode_ms: r.timings.decodeMs,
      ttft_ms: r.timings.ttftMs,
      prefill_tokens_per_second: r.timings.prefillTokensPerSecond,
      decode_tokens_per_second: r.timings.decodeTokensPerSecond,
    },
  };
}

function tokenLogprob(engine: Engine, e: TokenEvent): TokenLogprob {
  const piece = (id: number) => engine.tokenizer.decode([id], { skipSpecialTokens: false });
  const bytes = (s: string) => [...new TextEncoder().encode(s)];
  const t = piece(e.id);
  return {
    id: e.id,
    token: t,
    logprob: e.logprob,
    bytes: bytes(t),
    top_logprobs: e.top.map((x) => {
      const s = piece(x.id);
      return { id: x.id, token: s, logprob: x.logprob, bytes: bytes(s) };
    }),
  };
}

/** Streams end with ABORTED in the engine when the caller leaves the loop early. */
const streamOf = <T>(start: (push: (v: T) => void, signal: AbortSignal) => Promise<T | null>, outer?: AbortSignal): AsyncIterable<T> =>
  pushToPull(start, outer, () => new HearthError('ABORTED', 'The stream was closed by the caller.'));

/** The OpenAI-style surface over one engine. */
export function createOpenAIApi(engine: Engine, modelName: string): OpenAIApi {
  const chatPrompt = (p: ChatCompletionCreateParams): number[] => {
    if (!Array.isArray(p.messages) || p.messages.length === 0) {
      throw new HearthError('EMPTY_PROMPT', 'messages is empty.', { hint: 'Send at least one message.' });
    }
    for (const m of p.messages) {
      if (!m || typeof m.role !== 'string' || typeof m.content !== 'string') {
        throw new HearthError('INVALID_ARGUMENT', 'Each message needs a string role and string content.');
      }
    }
    // BOS is added unless the rendered template already starts with it
    return engine.tokenizer.encodeChat(p.messages, { addGenerationPrompt: true });
  };

  const completionPrompt = (p: CompletionCreateParams): number[] => {
    if (Array.isArray(p.prompt)) return p.prompt;
    if (typeof p.prompt !== 'string' || p.prompt.length === 0) throw new HearthError('EMPTY_PROMPT', 'prompt is empty.', { hint: 'Give a non-empty string or a list of token ids.' });
    return engine.tokenizer.encode(p.prompt, { addSpecialTokens: true });
  };

  const topOf = (v: number | null | undefined) => Math.max(0, Math.min(20, v ?? 0));

  async function chatCreate(p: ChatCompletionCreateParams, o?: RequestOptions): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    const promptIds = chatPrompt(p);
    const wantLogprobs = !!p.logprobs;
    const top = wantLogprobs ? topOf(p.top_logprobs) : 0;
    const id = newId('chatcmpl');
    const created = now();
    if (!p.stream) {
      const r = await engine.generate(toGenerateRequest(engine, p, promptIds, top, o?.signal));
      return {
        id,
        object: 'chat.completion',
        created,
        model: modelName,
        choices: [{ index: 0, message: { role: 'assistant', content: r.text }, finish_reason: r.finishReason, logprobs: wantLogprobs ? { content: r.tokens.map((t) => tokenLogprob(engine, t)) } : null }],
        usage: usageOf(r),
        hearth: extrasOf(promptIds, r),
      };
    }
    return streamOf<ChatCompletionChunk>(async (push, signal) => {
      push({ id, object: 'chat.completion.chunk', created, model: modelName, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }] });
      const req = toGenerateRequest(engine, p, promptIds, top, signal);
      req.onToken = (t) => {
        if (!t.text && !wantLogprobs) return;
        push({
          id, object: 'chat.completion.chunk', created, model: modelName,
          choices: [{ index: 0, delta: { content: t.text }, finish_reason: null, logprobs: wantLogprobs && t.id >= 0 ? { content: [tokenLogprob(engine, t)] } : null }],
        });
      };
      const r = await engine.generate(req);
      return { id, object: 'chat.completion.chunk', created, model: modelName, choices: [{ index: 0, delta: {}, finish_reason: r.finishReason, logprobs: null }], usage: usageOf(r), hearth: extrasOf(promptIds, r) };
    }, o?.signal ?? p.signal);
  }

  async function completionCreate(p: CompletionCreateParams, o?: RequestOptions): Promise<Completion | AsyncIterable<CompletionChunk>> {
    const promptIds = completionPrompt(p);
    const wantLogprobs = p.logprobs !== null && p.logprobs !== undefined;
    const top = wantLogprobs ? topOf(p.logprobs) : 0;
    const id = newId('cmpl');
    const created = now();
    const fields = { ...p, max_tokens: p.max_tokens === undefined ? 16 : p.max_tokens };
    if (!p.stream) {
      const r = await engine.generate(toGenerateRequest(engine, fields, promptIds, top, o?.signal));
      const prefix = p.echo && typeof p.prompt === 'string' ? p.prompt : '';
      let offset = prefix.length;
      const lp = wantLogprobs
        ? {
            tokens: r.tokens.map((t) => engine.tokenizer.decode([t.id], { skipSpecialTokens: false })),
            token_logprobs: r.tokens.map((t) => t.logprob),
            top_logprobs: top ? r.tokens.map((t) => Object.fromEntries(t.top.map((x) => [engine.tokenizer.decode([x.id], { skipSpecialTokens: false }), x.logprob]))) : null,
            text_offset: r.tokens.map((t) => {
              const o2 = offset;
              offset += t.text.length;
              return o2;
            }),
          }
        : null;
      return {
        id, object: 'text_completion', created, model: modelName,
        choices: [{ index: 0, text: prefix + r.text, finish_reason: r.finishReason, logprobs: lp }],
        usage: usageOf(r),
        hearth: extrasOf(promptIds, r),
      };
    }
    return streamOf<CompletionChunk>(async (push, signal) => {
      const req = toGenerateRequest(engine, fields, promptIds, top, signal);
      req.onToken = (t) => {
        if (t.text) push({ id, object: 'text_completion', created, model: modelName, choices: [{ index: 0, text: t.text, finish_reason: null, logprobs: null }] });
      };
      const r = await engine.generate(req);
      return { id, object: 'text_completion', created, model: modelName, choices: [{ index: 0, text: '', finish_reason: r.finishReason, logprobs: null }], usage: usageOf(r), hearth: extrasOf(promptIds, r) };
    }, o?.signal ?? p.signal);
  }

  return {
    chat: { completions: { create: chatCreate as ChatCompletions['create'] } },
    completions: { create: completionCreate as Completions['create'] },
  };
}
