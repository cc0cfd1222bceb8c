/**
 * Load on a running `hearth serve` through the official openai client, for the test (a small
 * sample) and `npm run bench:serve` (the full run): many requests from a few concurrent clients
 * with random aborts, every reply that was not aborted compared with the same request run alone
 * (greedy); and time to first token / aggregate tokens per second at a given concurrency.
 */
import OpenAI from 'openai';
import { rng } from './random.js';

export interface LoadRequest {
  kind: 'chat' | 'completion';
  stream: boolean;
  body: Record<string, unknown>;
}

/** `count` distinct greedy requests: text and token-id prompts, chat and completions, streamed or not. */
export function loadRequests(count: number, maxTokens: number): LoadRequest[] {
  const words = ['Once upon a time', 'The little dog', 'Lily saw a', 'One day, Tom', 'The sun was', 'A big red ball', 'She wanted to', 'In the park'];
  return Array.from({ length: count }, (_, i) => {
    const kind = i % 2 === 0 ? 'completion' : 'chat';
    const text = `${words[i % words.length]}${i >= words.length ? ` and ${words[(i * 3) % words.length]!.toLowerCase()}` : ''}`;
    const common = { model: 'stories260K', max_tokens: maxTokens, temperature: 0, ignore_eos: i % 3 === 0 };
    const body = kind === 'chat' ? { ...common, messages: [{ role: 'user', content: text }] } : { ...common, prompt: i % 4 === 0 ? [1, 400 + i] : text };
    return { kind, stream: i % 4 >= 2, body };
  });
}

export interface Reply {
  text: string;
  finish: string | null;
  completionTokens: number;
  /** ms from sending to the first text (streams), or to the reply. */
  ttftMs: number;
  ms: number;
}

/** Runs one request to its end; a signal that fires rejects (or ends the stream early: `aborted`). */
export async function send(client: OpenAI, r: LoadRequest, signal?: AbortSignal, onFirst?: () => void): Promise<Reply & { aborted: boolean }> {
  const t0 = performance.now();
  const opts = { signal };
  if (!r.stream) {
    const res = r.kind === 'chat'
      ? await client.chat.completions.create({ ...(r.body as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming), stream: false }, opts)
      : await client.completions.create({ ...(r.body as unknown as OpenAI.CompletionCreateParamsNonStreaming), stream: false }, opts);
    const ms = performance.now() - t0;
    const c = res.choices[0]!;
    return { text: 'message' in c ? (c.message.content ?? '') : c.text, finish: c.finish_reason, completionTokens: res.usage!.completion_tokens, ttftMs: ms, ms, aborted: false };
  }
  const stream = r.kind === 'chat'
    ? await client.chat.completions.create({ ...(r.body as unknown as OpenAI.ChatCompletionCreateParamsStreaming), stream: true, stream_options: { include_usage: true } }, opts)
    : await client.completions.create({ ...(r.body as unknown as OpenAI.CompletionCreateParamsStreaming), stream: true, stream_options: { include_usage: true } }, opts);
  let text = '';
  let finish: string | null = null;
  let tokens = -1;
  let ttftMs = 0;
  for await (const ch of stream as AsyncIterable<OpenAI.ChatCompletionChunk | OpenAI.Completion>) {
    const c = ch.choices[0] as (OpenAI.ChatCompletionChunk['choices'][number] & OpenAI.CompletionChoice) | undefined;
    const piece = c ? (c.delta?.content ?? c.text ?? '') : '';
    if (piece && !ttftMs) {
      ttftMs = performance.now() - t0;
      onFirst?.();
    }
    text += piece;
    finish = c?.finish_reason ?? finish;
    if (ch.usage) tokens = ch.usage.completion_tokens;
  }
  // the SDK ends a stream quietly when its signal fires: no usage chunk means it was cut
  return { text, finish, completionTokens: tokens, ttftMs, ms: performance.now() - t0, aborted: tokens < 0 };
}

export interface LoadResult {
  sent: number;
  aborted: number;
  completed: number;
  /** Completed replies that differ from the same request run alone. */
  mismatches: { index: number; want: string; got: string }[];
  errors: string[];
  ms: number;
}

/**
 * `total` requests (request i is requests[i % requests.length]) from `clients` concurrent
 * clients; each is aborted with probability `abortRate`, at a random moment in its first
 * `abortWithinMs` (or at its first token, for half the aborted streams).
 */
export async function runLoad(client: OpenAI, requests: LoadRequest[], solo: Reply[], o: { total: number; clients: number; abortRate: number; abortWithinMs: number; seed: number }): Promise<LoadResult> {
  const rand = rng(o.seed);
  const plan = Array.from({ length: o.total }, () => ({ abort: rand() < o.abortRate, at: rand() * o.abortWithinMs, atFirst: rand() < 0.5 }));
  const out: LoadResult = { sent: 0, aborted: 0, completed: 0, mismatches: [], errors: [], ms: 0 };
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    for (let i = next++; i < o.total; i = next++) {
      const r = requests[i % requests.length]!;
      const p = plan[i]!;
      const ctrl = new AbortController();
      const timer = p.abort && !(p.atFirst && r.stream) ? setTimeout(() => ctrl.abort(), p.at) : null;
      out.sent++;
      try {
        const got = await send(client, r, ctrl.signal, p.abort && p.atFirst ? () => ctrl.abort() : undefined);
        if (got.aborted) {
          out.aborted++;
          continue;
        }
        out.completed++;
        const want = solo[i % requests.length]!;
        if (got.text !== want.text || got.finish !== want.finish) out.mismatches.push({ index: i, want: want.text, got: got.text });
      } catch (e) {
        if (e instanceof OpenAI.APIUserAbortError) out.aborted++;
        else out.errors.push(`request ${i}: ${String(e)}`);
      } finally {
        if (timer) clearTimeout(timer);
      }
    }
  };
  await Promise.all(Array.from({ length: o.clients }, worker));
  out.ms = performance.now() - t0;
  return out;
}

/** Each request run alone, one after another: the reference replies. */
export async function soloReplies(client: OpenAI, requests: LoadRequest[]): Promise<Reply[]> {
  const out: Reply[] = [];
  for (const r of requests) out.push(await send(client, r));
  return out;
}

export interface Throughput {
  clients: number;
  requests: number;
  tokens: number;
  /** Completion tokens per second over the whole run, all clients together. */
  aggregateTokensPerSecond: number;
  ttftMedianMs: number;
  ttftP90Ms: number;
  wallMs: number;
}

/** `clients` concurrent streaming clients, each sending `perClient` requests one after another. */
export async function throughput(client: OpenAI, body: Record<string, unknown>, kind: 'chat' | 'completion', clients: number, perClient: number): Promise<Throughput> {
  const ttfts: number[] = [];
  let tokens = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = 0; i < perClient; i++) {
        const r = await send(client, { kind, stream: true, body });
        ttfts.push(r.ttftMs);
        tokens += r.completionTokens;
      }
    }),
  );
  const wallMs = performance.now() - t0;
  ttfts.sort((a, b) => a - b);
  const q = (f: number) => ttfts[Math.min(ttfts.length - 1, Math.floor(f * ttfts.length))]!;
  return { clients, requests: clients * perClient, tokens, aggregateTokensPerSecond: tokens / (wallMs / 1000), ttftMedianMs: q(0.5), ttftP90Ms: q(0.9), wallMs };
}
