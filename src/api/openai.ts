import { HearthError } from '../errors.js';
import { pushToPull } from '../util/push-stream.js';
import type { Engine, GenerateRequest, GenerateResult, TokenEvent } from '../engine/engine.js';
import { DEFAULT_SAMPLING, type SamplingParams } from '../kernels/sampling.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
  Completion,
  CompletionChunk,
  CompletionCreateParams,
  CompletionUsage,
  FinishReason,
  HearthExtras,
  ToolCallDelta,
  SamplingFields,
  TokenLogprob,
} from './types.js';
import type { ChatMessage } from '../tokenizer/index.js';
import { compileConstraint, type CompiledConstraint, type GrammarSource } from '../engine/constraint.js';
import { grammarOfResponseFormat } from './structured.js';
import { checkTools, parseToolCalls, toolFormatOf, toolGrammar, toolMessages, type FunctionDefinition, type ToolCall, type ToolChoice, type ToolFormat } from './tools.js';

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

// ---- request checks -------------------------------------------------------------------------

/**
 * Message roles Hearth accepts, as OpenAI does: `developer` (OpenAI's newer name for system
 * instructions) is rendered as `system`; any other role is INVALID_ARGUMENT naming it, rather
 * than being passed silently to a chat template that does not know it.
 */
export const CHAT_ROLES: readonly string[] = ['system', 'developer', 'user', 'assistant', 'tool'];

/** Checks each message's shape and role; `field` names the parameter in errors ('messages'). */
export function checkChatMessages(messages: unknown, field = 'messages'): asserts messages is ChatMessage[] {
  if (!Array.isArray(messages)) throw new HearthError('INVALID_ARGUMENT', `${field} must be an array of {role, content} messages.`, { details: { param: field } });
  messages.forEach((m: unknown, i) => {
    const x = m as Partial<ChatMessage> | null;
    // an assistant turn that only calls tools may have no content, as in OpenAI
    const callsOnly = !!x && x.role === 'assistant' && Array.isArray(x.tool_calls) && (x.content === null || x.content === undefined);
    if (!x || typeof x !== 'object' || typeof x.role !== 'string' || (typeof x.content !== 'string' && !callsOnly)) {
      throw new HearthError('INVALID_ARGUMENT', `${field}[${i}] needs a string role and a string content.`, { details: { param: `${field}[${i}]` } });
    }
    if (!CHAT_ROLES.includes(x.role)) {
      throw new HearthError('INVALID_ARGUMENT', `${field}[${i}].role ${JSON.stringify(x.role)} is not a role Hearth knows.`, {
        hint: `Use one of ${CHAT_ROLES.join(', ')}.`,
        details: { param: `${field}[${i}].role`, value: x.role },
      });
    }
  });
}

/** Messages as the chat template sees them: developer becomes system; a calls-only turn gets '' content. */
export function templateMessages(messages: readonly ChatMessage[]): ChatMessage[] {
  return messages.map((m) => ({ ...m, role: m.role === 'developer' ? 'system' : m.role, content: m.content ?? '' }));
}

type ParamRule = (v: unknown) => string | null;
const isNullish = (v: unknown) => v === null || v === undefined;
const numberOrNull: ParamRule = (v) => (isNullish(v) || (typeof v === 'number' && !Number.isNaN(v)) ? null : 'a number');
const integerOrNull: ParamRule = (v) => (isNullish(v) || (typeof v === 'number' && Number.isSafeInteger(v)) ? null : 'an integer');
const boolOrNull: ParamRule = (v) => (isNullish(v) || typeof v === 'boolean' ? null : 'a boolean');
const intRange = (lo: number, hi: number): ParamRule => (v) => (isNullish(v) || (typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi) ? null : `an integer from ${lo} to ${hi}`);
const anything: ParamRule = () => null;
const objectOrNull: ParamRule = (v) => (isNullish(v) || (typeof v === 'object' && !Array.isArray(v)) ? null : 'an object');
/** Documented OpenAI features Hearth does not implement: refused unless absent or at their no-op value. */
const unsupported = (noop: (v: unknown) => boolean): ParamRule => (v) => (isNullish(v) || noop(v) ? null : 'unsupported');
const emptyList = (v: unknown) => Array.isArray(v) && v.length === 0;
const emptyObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;

/** Parameters both endpoints share: OpenAI's, and Hearth's documented extras. */
const COMMON_PARAMS: Record<string, ParamRule> = {
  model: anything,
  stream: boolOrNull,
  stream_options: objectOrNull,
  temperature: numberOrNull,
  top_p: numberOrNull,
  frequency_penalty: numberOrNull,
  presence_penalty: numberOrNull,
  max_tokens: integerOrNull,
  seed: integerOrNull,
  stop: anything, // checked in toGenerateRequest
  response_format: (v) => (grammarOfResponseFormat(v), null), // throws, naming the offending part
  user: anything,
  n: intRange(1, 1),
  logit_bias: unsupported(emptyObject),
  // Hearth's extras
  top_k: integerOrNull,
  min_p: numberOrNull,
  repetition_penalty: numberOrNull,
  stop_token_ids: (v) => (v === undefined || (Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) ? null : 'a list of token ids'),
  ignore_eos: boolOrNull,
  signal: (v) => (v === undefined || (typeof v === 'object' && v !== null && 'aborted' in v) ? null : 'an AbortSignal'),
  hearth: anything,
};

/** OpenAI's chat.completions.create parameters (2025), as Hearth treats each. */
const CHAT_PARAMS: Record<string, ParamRule> = {
  ...COMMON_PARAMS,
  messages: anything, // checkChatMessages
  logprobs: boolOrNull,
  top_logprobs: intRange(0, 20),
  max_completion_tokens: integerOrNull,
  metadata: anything,
  store: anything,
  service_tier: anything,
  parallel_tool_calls: boolOrNull,
  prompt_cache_key: anything,
  safety_identifier: anything,
  reasoning_effort: anything,
  verbosity: anything,
  tools: anything, // checkTools, with tool_choice
  tool_choice: anything,
  functions: unsupported(emptyList),
  function_call: unsupported((v) => v === 'none' || v === 'auto'),
  modalities: unsupported((v) => Array.isArray(v) && v.every((x) => x === 'text')),
  audio: unsupported(() => false),
  prediction: unsupported(() => false),
  web_search_options: unsupported(() => false),
};

/**
 * OpenAI's (legacy) completions.create parameters. `logprobs` is the number of top
 * log-probabilities per token: OpenAI caps it at 5, Hearth at 20 (what its sampler returns).
 */
const COMPLETION_PARAMS: Record<string, ParamRule> = {
  ...COMMON_PARAMS,
  prompt: anything, // checked when encoded
  logprobs: intRange(0, 20),
  echo: boolOrNull,
  best_of: intRange(1, 1),
  suffix: unsupported((v) => v === ''),
};

/**
 * Refuses what OpenAI refuses: an unknown top-level parameter, a value of the wrong type or
 * range, and (as INVALID_ARGUMENT naming it) a documented feature Hearth does not implement
 * (n > 1, tools, logit_bias, structured output). Each error names the parameter.
 */
function checkParams(p: unknown, rules: Record<string, ParamRule>, endpoint: string): void {
  if (!p || typeof p !== 'object' || Array.isArray(p)) throw new HearthError('INVALID_ARGUMENT', `${endpoint} needs a params object.`);
  for (const [key, v] of Object.entries(p)) {
    const rule = Object.prototype.hasOwnProperty.call(rules, key) ? rules[key] : undefined;
    if (!rule) {
      throw new HearthError('INVALID_ARGUMENT', `Unrecognized request argument supplied: ${key}.`, {
        hint: `${endpoint} takes OpenAI's parameters and Hearth's extras (top_k, min_p, repetition_penalty, stop_token_ids, ignore_eos).`,
        details: { param: key },
      });
    }
    const want = rule(v);
    if (want === 'unsupported') {
      throw new HearthError('INVALID_ARGUMENT', `${key} is not supported by Hearth.`, { hint: `Leave ${key} out of the request.`, details: { param: key } });
    }
    if (want !== null) {
      throw new HearthError('INVALID_ARGUMENT', `${key} must be ${want}, got ${describe(v)}.`, { details: { param: key } });
    }
  }
}

/**
 * The checks create() runs on a request's parameters, on their own: `hearth serve` refuses a bad
 * request at once (400) instead of after it has waited for the engine.
 */
export function checkRequestParams(endpoint: 'chat.completions' | 'completions', p: unknown): void {
  if (endpoint === 'chat.completions') {
    checkParams(p, CHAT_PARAMS, 'chat.completions.create');
    const c = p as ChatCompletionCreateParams;
    checkTools(c.tools, c.tool_choice);
  } else checkParams(p, COMPLETION_PARAMS, 'completions.create');
}

function describe(v: unknown): string {
  try {
    const s = typeof v === 'bigint' ? `${v}n` : JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return typeof v;
  }
}

/** OpenAI sampling fields to the engine's request. */
export function toGenerateRequest(engine: Engine, p: SamplingFields, promptIds: number[], topLogprobs: number, signal?: AbortSignal): GenerateRequest {
  const sampling: Partial<SamplingParams> = {
    temperature: num(p.temperature, DEFAULT_SAMPLING.temperature),
    topP: num(p.top_p, DEFAULT_SAMPLING.topP),
    topK: num(p.top_k, DEFAULT_SAMPLING.topK),
    minP: num(p.min_p, DEFAULT_SAMPLING.minP),
    frequencyPenalty: num(p.frequency_penalty, DEFAULT_SAMPLING.frequencyPenalty),
    presencePenalty: num(p.presence_penalty, DEFAULT_SAMPLING.presencePenalty),
    repetitionPenalty: num(p.repetition_penalty, DEFAULT_SAMPLING.repetitionPenalty),
    topLogprobs,
  };
  const stop: unknown = p.stop === null || p.stop === undefined ? [] : typeof p.stop === 'string' ? [p.stop] : p.stop;
  if (!Array.isArray(stop) || stop.length > 4 * 4 || stop.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new HearthError('INVALID_ARGUMENT', 'stop must be a non-empty string or a list of up to 16 non-empty strings.', { details: { param: 'stop' } });
  }
  if (p.stop_token_ids !== undefined && !(Array.isArray(p.stop_token_ids) && p.stop_token_ids.every((x) => Number.isSafeInteger(x) && x >= 0))) {
    throw new HearthError('INVALID_ARGUMENT', 'stop_token_ids must be a list of token ids.', { details: { param: 'stop_token_ids' } });
  }
  if (p.seed !== null && p.seed !== undefined && !Number.isSafeInteger(p.seed)) {
    throw new HearthError('INVALID_ARGUMENT', `seed must be an integer, got ${String(p.seed)}.`, { details: { param: 'seed' } });
  }
  const maxTokens = p.max_completion_tokens ?? p.max_tokens ?? undefined;
  const stopIds = p.ignore_eos ? [...(p.stop_token_ids ?? [])] : [...engine.tokenizer.eosIds, ...(p.stop_token_ids ?? [])];
  return {
    promptIds,
    maxTokens: maxTokens === null ? undefined : maxTokens,
    sampling,
    seed: p.seed ?? undefined,
    stopIds,
    stopStrings: stop as string[],
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

export interface RequestGrammar {
  source: GrammarSource;
  /** The request field the grammar comes from, named in errors. */
  param: string;
}

/**
 * The tools a reply may call (tool_choice not none), and the grammar that shapes the reply. A
 * structured response_format with them is refused: the reply's grammar is the calls' (and free
 * text for auto).
 */
export function toolPlan(fmt: ToolFormat, functions: FunctionDefinition[], choice: ToolChoice, parallel: boolean, responseFormat?: unknown): { grammar: RequestGrammar; calls: ToolsInPlay } {
  if (grammarOfResponseFormat(responseFormat) !== null) {
    throw new HearthError('INVALID_ARGUMENT', 'response_format cannot shape a reply that may call tools.', {
      hint: "Use tool_choice 'none' for a structured reply, or leave response_format out when tools may be called.",
      details: { param: 'response_format' },
    });
  }
  const format = toolGrammar(fmt, functions, choice, parallel);
  return { grammar: { source: { type: 'structural_tag', format }, param: 'tools' }, calls: { fmt, functions, choice } };
}

/** The reply's message: tool calls parsed out of the text when the grammar allowed them and the reply is whole. */
export function toolReply(calls: ToolsInPlay | null, text: string, finish: GenerateResult['finishReason']): { message: ChatCompletion['choices'][0]['message']; finish: FinishReason } {
  if (!calls || finish !== 'stop') return { message: { role: 'assistant', content: text }, finish };
  const parsed = parseToolCalls(calls.fmt, calls.functions, text);
  if (!parsed.calls.length) return { message: { role: 'assistant', content: text }, finish };
  const toolCalls: ToolCall[] = parsed.calls.map((c) => ({ id: newId('call'), type: 'function', function: { name: c.name, arguments: c.arguments } }));
  return { message: { role: 'assistant', content: parsed.content || null, tool_calls: toolCalls }, finish: 'tool_calls' };
}

/** A reply's tool calls as OpenAI streams them: id, type and name with empty arguments, then the arguments. */
export function toolCallDeltas(calls: readonly ToolCall[]): ToolCallDelta[] {
  return calls.flatMap((c, index) => [
    { index, id: c.id, type: 'function' as const, function: { name: c.function.name, arguments: '' } },
    { index, function: { arguments: c.function.arguments } },
  ]);
}

/** Compiles a grammar (cached): a bad one fails here, before any token. */
export async function constraintOf(engine: Engine, g: RequestGrammar | null): Promise<CompiledConstraint | undefined> {
  if (!g) return undefined;
  return compileConstraint(engine.tokenizer, engine.config.vocabSize, g.source, g.param);
}

/** engine.generate under `grammar` (when given): a matcher of its own for this request, freed however the request ends. */
export async function generateWith(engine: Engine, req: GenerateRequest, grammar?: CompiledConstraint): Promise<GenerateResult> {
  const constraint = grammar ? await grammar.create() : undefined;
  try {
    return await engine.generate(constraint ? { ...req, constraint } : req);
  } finally {
    constraint?.dispose?.();
  }
}

/** The compiled grammar of a `response_format` (none for text), for callers outside this API (sessions). */
export function responseFormatGrammar(engine: Engine, responseFormat: unknown): Promise<CompiledConstraint | undefined> {
  return constraintOf(engine, grammarOfResponseFormat(responseFormat));
}

/** Tools a request may call, in the model's format. */
export interface ToolsInPlay {
  fmt: ToolFormat;
  functions: FunctionDefinition[];
  choice: ToolChoice;
}

interface ChatPlan {
  promptIds: number[];
  grammar: RequestGrammar | null;
  calls: ToolsInPlay | null;
}

/**
 * Streamed text while a tool call may come (tool_choice auto): passed on until the call's trigger
 * appears, holding back a tail that could be its start; with no trigger (required, named) all of
 * it is held (the reply is only calls).
 */
export class CallTextGate {
  private text = '';
  private sent = 0;
  private closed: boolean;

  constructor(private readonly trigger: string | null) {
    this.closed = trigger === null;
  }

  push(piece: string): string {
    this.text += piece;
    if (this.closed) return '';
    const t = this.trigger!;
    const at = this.text.indexOf(t, Math.max(0, this.sent - t.length));
    let until = this.text.length;
    if (at >= 0) {
      this.closed = true;
      until = at;
    } else {
      for (let k = Math.min(t.length - 1, this.text.length); k > 0; k--) {
        if (this.text.endsWith(t.slice(0, k))) {
          until = this.text.length - k;
          break;
        }
      }
    }
    const out = this.text.slice(this.sent, Math.max(this.sent, until));
    this.sent = Math.max(this.sent, until);
    return out;
  }

  /** What was held back, when no call came. */
  rest(): string {
    const out = this.text.slice(this.sent);
    this.sent = this.text.length;
    return out;
  }
}

/** The OpenAI-style surface over one engine. */
export function createOpenAIApi(engine: Engine, modelName: string): OpenAIApi {
  let toolFormat: ToolFormat | null = null;
  const formatOf = (): ToolFormat => (toolFormat ??= toolFormatOf(engine.tokenizer));

  /** The request's prompt, the grammar its reply follows (response_format or tools), and the tools a reply may call. */
  const chatPlan = (p: ChatCompletionCreateParams): ChatPlan => {
    if (p.messages === undefined || p.messages === null || (Array.isArray(p.messages) && p.messages.length === 0)) {
      throw new HearthError('EMPTY_PROMPT', 'messages is empty.', { hint: 'Send at least one message.', details: { param: 'messages' } });
    }
    checkChatMessages(p.messages);
    const { functions, choice } = checkTools(p.tools, p.tool_choice);
    const active = choice !== 'none' && functions.length > 0;
    let messages = templateMessages(p.messages);
    let tools: unknown;
    let fmt: ToolFormat | null = null;
    // tool_choice none leaves the tools out of the prompt; earlier calls and results still render
    if (active || messages.some((m) => m.role === 'tool' || m.tool_calls?.length)) {
      fmt = formatOf();
      ({ messages, tools } = toolMessages(fmt, messages, active ? functions : []));
    }
    // BOS is added unless the rendered template already starts with it
    const promptIds = engine.tokenizer.encodeChat(messages, { addGenerationPrompt: true, ...(tools ? { tools } : {}) });
    if (!active) return { promptIds, grammar: grammarOfResponseFormat(p.response_format), calls: null };
    return { promptIds, ...toolPlan(fmt!, functions, choice, p.parallel_tool_calls ?? true, p.response_format) };
  };

  const constraintFor = (g: RequestGrammar | null) => constraintOf(engine, g);

  const replyOf = toolReply;

  const completionPrompt = (p: CompletionCreateParams): number[] => {
    if (Array.isArray(p.prompt)) return p.prompt;
    if (typeof p.prompt !== 'string' || p.prompt.length === 0) throw new HearthError('EMPTY_PROMPT', 'prompt is empty.', { hint: 'Give a non-empty string or a list of token ids.', details: { param: 'prompt' } });
    return engine.tokenizer.encode(p.prompt, { addSpecialTokens: true });
  };

  async function chatCreate(p: ChatCompletionCreateParams, o?: RequestOptions): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    checkParams(p, CHAT_PARAMS, 'chat.completions.create');
    const { promptIds, grammar, calls } = chatPlan(p);
    const compiled = await constraintFor(grammar);
    const wantLogprobs = !!p.logprobs;
    const top = wantLogprobs ? (p.top_logprobs ?? 0) : 0;
    const id = newId('chatcmpl');
    const created = now();
    if (!p.stream) {
      const r = await generateWith(engine, toGenerateRequest(engine, p, promptIds, top, o?.signal), compiled);
      const { message, finish } = replyOf(calls, r.text, r.finishReason);
      return {
        id,
        object: 'chat.completion',
        created,
        model: modelName,
        choices: [{ index: 0, message, finish_reason: finish, logprobs: wantLogprobs ? { content: r.tokens.map((t) => tokenLogprob(engine, t)) } : null }],
        usage: usageOf(r),
        hearth: extrasOf(promptIds, r),
      };
    }
    return streamOf<ChatCompletionChunk>(async (push, signal) => {
      push({ id, object: 'chat.completion.chunk', created, model: modelName, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }] });
      const req = toGenerateRequest(engine, p, promptIds, top, signal);
      const chunk = (delta: ChatCompletionChunk['choices'][0]['delta'], logprobs: ChatCompletionChunk['choices'][0]['logprobs'] = null): ChatCompletionChunk => ({
        id, object: 'chat.completion.chunk', created, model: modelName, choices: [{ index: 0, delta, finish_reason: null, logprobs }],
      });
      // with tools, text is streamed until a call may be starting (held back while it could be the trigger)
      const held = calls ? new CallTextGate(calls.choice === 'auto' ? calls.fmt.trigger : null) : null;
      req.onToken = (t) => {
        if (held) {
          const text = held.push(t.text);
          if (text) push(chunk({ content: text }));
          return;
        }
        if (!t.text && !wantLogprobs) return;
        push(chunk({ content: t.text }, wantLogprobs && t.id >= 0 ? { content: [tokenLogprob(engine, t)] } : null));
      };
      const r = await generateWith(engine, req, compiled);
      const { message, finish } = replyOf(calls, r.text, r.finishReason);
      if (held) {
        if (message.tool_calls) {
          for (const d of toolCallDeltas(message.tool_calls)) push(chunk({ tool_calls: [d] }));
        } else {
          const rest = held.rest();
          if (rest) push(chunk({ content: rest }));
        }
      }
      return { id, object: 'chat.completion.chunk', created, model: modelName, choices: [{ index: 0, delta: {}, finish_reason: finish, logprobs: null }], usage: usageOf(r), hearth: extrasOf(promptIds, r) };
    }, o?.signal ?? p.signal);
  }

  async function completionCreate(p: CompletionCreateParams, o?: RequestOptions): Promise<Completion | AsyncIterable<CompletionChunk>> {
    checkParams(p, COMPLETION_PARAMS, 'completions.create');
    const promptIds = completionPrompt(p);
    const compiled = await constraintFor(grammarOfResponseFormat(p.response_format));
    const wantLogprobs = p.logprobs !== null && p.logprobs !== undefined;
    const top = wantLogprobs ? p.logprobs! : 0;
    const id = newId('cmpl');
    const created = now();
    const fields = { ...p, max_tokens: p.max_tokens === undefined ? 16 : p.max_tokens };
    if (!p.stream) {
      const r = await generateWith(engine, toGenerateRequest(engine, fields, promptIds, top, o?.signal), compiled);
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
      const r = await generateWith(engine, req, compiled);
      return { id, object: 'text_completion', created, model: modelName, choices: [{ index: 0, text: '', finish_reason: r.finishReason, logprobs: null }], usage: usageOf(r), hearth: extrasOf(promptIds, r) };
    }, o?.signal ?? p.signal);
  }

  return {
    chat: { completions: { create: chatCreate as ChatCompletions['create'] } },
    completions: { create: completionCreate as Completions['create'] },
  };
}
