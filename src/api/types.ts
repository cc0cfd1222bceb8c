/** The OpenAI-compatible request and response shapes Hearth serves (a faithful subset, plus `hearth` extras). */
import type { ChatMessage } from '../tokenizer/index.js';
import type { ResponseFormat } from './structured.js';
import type { ChatCompletionTool, ToolCall, ToolChoice } from './tools.js';

export type { ResponseFormat, ChatCompletionTool, ToolCall, ToolChoice };

export type { ChatMessage };

export interface SamplingFields {
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  frequency_penalty?: number | null;
  presence_penalty?: number | null;
  repetition_penalty?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  /** Extra token ids that end generation, besides the model's end-of-sequence tokens. */
  stop_token_ids?: number[];
  /** Keep generating past end-of-sequence tokens (for benchmarks). */
  ignore_eos?: boolean;
  signal?: AbortSignal;
  /**
   * Structured output: json_object, json_schema (OpenAI), and Hearth's grammar (EBNF) and regex.
   * Every token is drawn from what the grammar allows; the model may stop only where it is complete.
   */
  response_format?: ResponseFormat | null;
}

/**
 * OpenAI parameters accepted and ignored (they change nothing Hearth computes), and `n`, which
 * must be 1. Anything else OpenAI does not know is refused by name; OpenAI features Hearth does
 * not implement (tools, logit_bias, structured response_format, n > 1) are refused too.
 */
export interface OpenAICompatFields {
  /** Must be 1 (or absent): Hearth returns one choice. */
  n?: number | null;
  user?: string;
  stream_options?: { include_usage?: boolean } | null;
}

export interface ChatCompletionCreateParams extends SamplingFields, OpenAICompatFields {
  /** Roles: system, developer (rendered as system), user, assistant, tool. */
  messages: ChatMessage[];
  model?: string;
  metadata?: Record<string, string> | null;
  store?: boolean | null;
  stream?: boolean | null;
  logprobs?: boolean | null;
  /** 0..20, as OpenAI. */
  top_logprobs?: number | null;
  /** Functions the model may call; each call's arguments follow its parameters' JSON Schema. */
  tools?: ChatCompletionTool[] | null;
  /** auto (text or calls), none, required (at least one call), or one named function. */
  tool_choice?: ToolChoice | null;
  /** More than one call in a reply (default true). */
  parallel_tool_calls?: boolean | null;
}

export interface CompletionCreateParams extends SamplingFields, OpenAICompatFields {
  /** Text, or token ids, as in OpenAI's API. */
  prompt: string | number[];
  model?: string;
  stream?: boolean | null;
  /** Legacy completions: how many top log-probabilities to return per token (0 = only the chosen token's), 0..20 (OpenAI: 0..5). */
  logprobs?: number | null;
  echo?: boolean;
}

export interface TopLogprob {
  token: string;
  logprob: number;
  bytes: number[] | null;
  /** Hearth extra: the token id. */
  id: number;
}

export interface TokenLogprob extends TopLogprob {
  top_logprobs: TopLogprob[];
}

export interface HearthTimings {
  prefill_ms: number;
  decode_ms: number;
  ttft_ms: number;
  prefill_tokens_per_second: number;
  decode_tokens_per_second: number;
}

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

export interface HearthExtras {
  prompt_ids: number[];
  ids: number[];
  prefilled_tokens: number;
  reused_tokens: number;
  timings: HearthTimings;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls';

/** A streamed piece of a tool call, as OpenAI sends it: id, type and name first, then arguments. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] };
    finish_reason: FinishReason;
    logprobs: { content: TokenLogprob[] } | null;
  }[];
  usage: CompletionUsage;
  hearth: HearthExtras;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: 'assistant'; content?: string; tool_calls?: ToolCallDelta[] };
    finish_reason: FinishReason | null;
    logprobs: { content: TokenLogprob[] } | null;
  }[];
  /** Present on the last chunk only. */
  usage?: CompletionUsage;
  hearth?: HearthExtras;
}

export interface Completion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: {
    index: number;
    text: string;
    finish_reason: FinishReason;
    logprobs: { tokens: string[]; token_logprobs: number[]; top_logprobs: Record<string, number>[] | null; text_offset: number[] } | null;
  }[];
  usage: CompletionUsage;
  hearth: HearthExtras;
}

export interface CompletionChunk {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: { index: number; text: string; finish_reason: FinishReason | null; logprobs: null }[];
  usage?: CompletionUsage;
  hearth?: HearthExtras;
}
