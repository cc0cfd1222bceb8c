/**
 * One generation over HTTP: admitted through the scheduler, run on the current engine through
 * the library's OpenAI surface (src/api/openai.ts: the same checks and shapes as in the browser),
 * answered as JSON or as server-sent events. A client that goes away aborts its generation and
 * frees its slot; a lost device answers 503 and starts the model's reload.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HearthError } from '../errors.js';
import type { NodeEngine } from '../node.js';
import type { CompletionUsage } from '../api/types.js';
import { clientOf, type ServeContext } from './context.js';
import { toOpenAIError } from './errors.js';

/** What a route runs once admitted: a whole result, or chunks to stream. */
export type Run = (engine: NodeEngine, signal: AbortSignal) => Promise<object | AsyncIterable<object>>;

export interface GenerationSpec {
  stream: boolean;
  /** stream_options.include_usage: a last chunk with `choices: []` and the usage. */
  includeUsage: boolean;
  run: Run;
  /** For --log-content only. */
  content: unknown;
  /**
   * Sends a whole (not streamed) result in place of `reply.send(result)` (a transcription as
   * text/plain, say); returns the reply text --log-content logs.
   */
  respond?: (reply: FastifyReply, result: object) => string;
}

const isStream = (r: object): r is AsyncIterable<object> => Symbol.asyncIterator in r;

/** Sends an error as OpenAI does (with Retry-After on 429 and 503), unless the client is gone. */
export function sendError(reply: FastifyReply, e: unknown, ctx: ServeContext): void {
  const { status, body, error } = toOpenAIError(e);
  if (status === 429) reply.header('retry-after', String(error.details?.retryAfter ?? ctx.scheduler.retryAfterSeconds()));
  if (status === 503) reply.header('retry-after', '5');
  if (status >= 500) ctx.log.warn({ code: error.code, status, err: status === 500 ? (error.cause ?? error) : undefined }, 'request failed');
  if (reply.sent) return;
  if (reply.raw.destroyed) reply.hijack(); // the client is gone: nothing to send, and fastify need not wait for it
  else void reply.code(status).send(body);
}

export async function generate(req: FastifyRequest, reply: FastifyReply, ctx: ServeContext, spec: GenerationSpec): Promise<void> {
  const ctrl = new AbortController();
  const gone = () => {
    if (!reply.raw.writableFinished) ctrl.abort(new HearthError('ABORTED', 'The client disconnected.'));
  };
  reply.raw.once('close', gone);
  const t0 = performance.now();
  let slot;
  try {
    slot = await ctx.scheduler.acquire(clientOf(req), ctrl.signal);
  } catch (e) {
    reply.raw.off('close', gone);
    // gone while it waited, or turned away (the queue is full)
    ctx.requests[ctrl.signal.aborted ? 'clientGone' : 'rejected']++;
    return sendError(reply, e, ctx);
  }
  const queuedMs = performance.now() - t0;
  let usage: CompletionUsage | undefined;
  let text = '';
  let outcome: keyof ServeContext['requests'] = 'ok';
  try {
    const engine = ctx.model.current();
    const result = await spec.run(engine, ctrl.signal);
    if (!isStream(result)) {
      usage = (result as { usage?: CompletionUsage }).usage;
      if (spec.respond) {
        if (!reply.raw.destroyed) text = spec.respond(reply, result);
        return;
      }
      if (ctx.logContent) text = JSON.stringify((result as { choices?: unknown }).choices);
      if (!reply.raw.destroyed) reply.send(result);
      return;
    }
    await writeEvents(reply, result, spec, (chunk) => {
      const c = chunk as { usage?: CompletionUsage; choices?: { delta?: { content?: string }; text?: string }[] };
      if (c.usage) usage = c.usage;
      if (ctx.logContent) text += c.choices?.[0]?.delta?.content ?? c.choices?.[0]?.text ?? '';
    });
  } catch (e) {
    outcome = ctrl.signal.aborted ? 'clientGone' : 'error';
    ctx.model.noticeFailure(e);
    if (ctrl.signal.aborted) {
      if (!reply.sent) reply.hijack(); // the client is gone: nothing to send
      return;
    }
    if (reply.raw.headersSent) {
      // mid-stream: an error event (the openai SDKs raise it), then the end; no [DONE]
      reply.raw.end(`data: ${JSON.stringify(toOpenAIError(e).body)}\n\n`);
      return;
    }
    sendError(reply, e, ctx);
  } finally {
    slot.release();
    reply.raw.off('close', gone);
    ctx.requests[outcome]++;
    const log = { url: req.url, outcome, stream: spec.stream, queued_ms: Math.round(queuedMs), ms: Math.round(performance.now() - t0), prompt_tokens: usage?.prompt_tokens, completion_tokens: usage?.completion_tokens, cached_tokens: usage?.prompt_tokens_details.cached_tokens };
    if (ctx.logContent) req.log.info({ ...log, request: spec.content, reply: text }, 'generation');
    else req.log.info(log, 'generation');
  }
}

/**
 * Server-sent events as OpenAI sends them: one `data: {chunk}` per chunk and `data: [DONE]`.
 * The usage rides only on an extra last chunk with `choices: []`, and only when the client asked
 * (stream_options.include_usage); then every other chunk carries `usage: null`.
 */
async function writeEvents(reply: FastifyReply, chunks: AsyncIterable<object>, spec: GenerationSpec, seen: (c: object) => void): Promise<void> {
  const raw = reply.raw;
  reply.hijack();
  raw.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const write = async (data: string) => {
    if (raw.destroyed) throw new HearthError('ABORTED', 'The client disconnected.');
    if (raw.write(`data: ${data}\n\n`)) return;
    // a slow reader: wait for the socket to drain (or close), leaving no listener behind
    await new Promise<void>((resolve) => {
      const done = () => {
        raw.off('drain', done);
        raw.off('close', done);
        resolve();
      };
      raw.on('drain', done);
      raw.on('close', done);
    });
  };
  let usage: object | null = null;
  let template: Record<string, unknown> | null = null;
  for await (const chunk of chunks) {
    seen(chunk);
    const { usage: u, ...rest } = chunk as { usage?: object } & Record<string, unknown>;
    if (u) usage = u;
    template ??= rest;
    await write(JSON.stringify(spec.includeUsage ? { ...rest, usage: null } : rest));
  }
  if (spec.includeUsage && usage && template) {
    const { id, object, created, model } = template;
    await write(JSON.stringify({ id, object, created, model, choices: [], usage }));
  }
  await write('[DONE]');
  raw.end();
}
