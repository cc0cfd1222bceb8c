/**
 * `hearth serve`: an OpenAI-compatible HTTP server over one engine on the host's GPU (Node +
 * Dawn), on fastify. Secure by default: 127.0.0.1 unless told otherwise, API keys when given
 * (constant-time), CORS off unless an origin is named, bodies limited in size, no prompt or reply
 * text in the log unless asked. Requests wait in a bounded fair queue (429 beyond it); a client
 * that goes away aborts its generation; close() drains what is in flight; a lost GPU device
 * answers 503 while the model loads again.
 *
 * Why fastify: it is made for Node (no adapter), parses JSON safely (prototype-poisoning guard),
 * limits body size and answers 503 while closing out of the box, has a maintained CORS plugin and
 * a structured logger (pino) whose request log carries no bodies. Express 5 needs middleware for
 * each of those and is slower; Hono targets web-standard runtimes and needs @hono/node-server on
 * Node, with SSE through its own helpers. Routes stay plain `(app, ctx) => void` modules.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import cors from '@fastify/cors';
import { HearthError } from '../errors.js';
import { FairQueue } from '../util/fair-queue.js';
import type { CreateEngineOptions } from '../node.js';
import { ApiKeys } from './auth.js';
import { ModelHost, type ModelHostOptions } from './model.js';
import { setAuth, type RequestCounts, type Scheduler, type ServeContext } from './context.js';
import { sendError } from './generate.js';
import { openaiRoutes } from './routes/openai.js';
import { sessionRoutes } from './routes/sessions.js';
import { audioRoutes, DEFAULT_MAX_AUDIO_BYTES } from './routes/audio.js';

/** What to load (as createEngine in Node takes it); prompts longer than contextLength are refused (400). */
export interface ServeOptions extends Pick<CreateEngineOptions, 'model' | 'revision' | 'endpoint' | 'token' | 'dtype' | 'activations' | 'contextLength' | 'audioModel'> {
  /** Default 127.0.0.1 (this machine only). */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Keys clients must send as `Authorization: Bearer KEY`; none: no auth. */
  apiKeys?: string[];
  /** Requests admitted to the engine at once (default 1: the engine runs one at a time until batched decoding lands). */
  maxConcurrent?: number;
  /**
   * Continuous batching: up to this many greedy requests decode together, one forward pass per
   * step (Engine.enableBatching), and as many are admitted at once (unless maxConcurrent is
   * larger). Absent: one request at a time.
   */
  batch?: number;
  /** Requests waiting at most (default 32); one more gets 429 with Retry-After. */
  maxQueue?: number;
  /** Origins allowed to call from a browser (CORS); none: CORS off. '*' allows any. */
  cors?: string[];
  /** Log prompt and reply text (default false). */
  logContent?: boolean;
  /** Keep sessions (conversations with their KV cache) in this folder; absent: the session extension is off. */
  sessionsDir?: string;
  /** Largest request body in bytes (default 1 MiB); larger is 413. */
  bodyLimit?: number;
  /** Largest audio file POST /v1/audio/transcriptions takes, in bytes (default 25 MiB, as OpenAI); larger is 413. */
  maxAudioBytes?: number;
  /** fastify's logger option (default off; the CLI logs JSON lines to stdout). */
  logger?: FastifyServerOptions['logger'];
  /** Take the client address from X-Forwarded-For (behind a load balancer you trust). */
  trustProxy?: boolean;
  onModelEvent?: ModelHostOptions['onEvent'];
}

export interface HearthServer {
  readonly app: FastifyInstance;
  readonly model: ModelHost;
  readonly scheduler: Scheduler;
  /** Generations so far, by how they ended (also on /health). */
  readonly requests: Readonly<RequestCounts>;
  /** Starts listening; resolves with the base URL (http://host:port). */
  listen(): Promise<string>;
  /** Stops taking requests, lets those admitted or queued finish, then frees the model. */
  close(): Promise<void>;
}

const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** fastify's own request errors (body parsing, size) as typed HearthErrors. */
function requestError(e: FastifyError, contentType: string | undefined, url: string): HearthError | unknown {
  if (e instanceof HearthError) return e;
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HearthError('PAYLOAD_TOO_LARGE', 'The request body is larger than this server accepts.', { hint: 'Send a shorter conversation, or start the server with a larger --max-body.' });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HearthError('INVALID_ARGUMENT', `Unsupported Content-Type: ${contentType || 'none'}.`, {
        hint: url.startsWith('/v1/audio/') ? 'Send the audio file as multipart/form-data (a `file` part and the other fields).' : 'Send the body as JSON with Content-Type: application/json.',
      });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HearthError('INVALID_ARGUMENT', 'The request body is empty.', { hint: 'Send a JSON object.' });
  }
  if (e.statusCode === 400 || e instanceof SyntaxError) {
    return new HearthError('INVALID_ARGUMENT', 'We could not parse the JSON body of your request.', { hint: 'The API expects a JSON payload; check that the body is valid JSON.' });
  }
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return new HearthError('INVALID_ARGUMENT', e.message);
  return e;
}

export async function createServer(opts: ServeOptions): Promise<HearthServer> {
  const keys = new ApiKeys(opts.apiKeys ?? []);
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 8080;
  if (!(Number.isInteger(port) && port >= 0 && port < 65536)) throw new HearthError('INVALID_ARGUMENT', `port must be an integer from 0 to 65535, got ${port}.`);
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!(Number.isInteger(bodyLimit) && bodyLimit >= 1024)) throw new HearthError('INVALID_ARGUMENT', `The body limit must be an integer of at least 1024 bytes, got ${bodyLimit}.`);
  const maxAudioBytes = opts.maxAudioBytes ?? DEFAULT_MAX_AUDIO_BYTES;
  if (!(Number.isInteger(maxAudioBytes) && maxAudioBytes >= 1024)) throw new HearthError('INVALID_ARGUMENT', `The audio size limit must be an integer of at least 1024 bytes, got ${maxAudioBytes}.`);
  if (opts.batch !== undefined && !(Number.isInteger(opts.batch) && opts.batch >= 1)) throw new HearthError('INVALID_ARGUMENT', `batch must be a positive integer, got ${opts.batch}.`);
  const scheduler = new FairQueue({ maxActive: Math.max(opts.maxConcurrent ?? 1, opts.batch ?? 1), maxQueued: opts.maxQueue ?? 32 });
  const { model: source, revision, endpoint, token, dtype, activations, contextLength, audioModel } = opts;
  const model = new ModelHost({
    model: source,
    revision,
    endpoint,
    token,
    dtype,
    activations,
    contextLength,
    audioModel,
    batch: opts.batch,
    sessions: opts.sessionsDir ? { dir: opts.sessionsDir } : undefined,
    onEvent: opts.onModelEvent,
  });
  await model.start();

  // requestTimeout bounds how long a client may take to send its request (slow-send clients), not the reply
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit, trustProxy: opts.trustProxy ?? false, forceCloseConnections: 'idle', return503OnClosing: true, requestTimeout: 60_000 });
  const ctx: ServeContext = { model, scheduler, keys, logContent: !!opts.logContent, sessions: !!opts.sessionsDir, maxAudioBytes, log: app.log, requests: { ok: 0, clientGone: 0, error: 0, rejected: 0 } };
  let draining = false;

  app.setErrorHandler((e: FastifyError, req, reply) => sendError(reply, requestError(e, req.headers['content-type'], req.url), ctx));
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, new HearthError('NOT_FOUND', `Unknown request URL: ${req.method} ${req.url.split('?')[0]}.`, { hint: 'Please check the URL for typos; this server serves /v1/models, /v1/chat/completions, /v1/completions, /v1/audio/transcriptions and /health.', details: { openaiCode: 'unknown_url' } }), ctx),
  );
  if (opts.cors?.length) await app.register(cors, { origin: opts.cors.includes('*') ? '*' : opts.cors, allowedHeaders: ['authorization', 'content-type', 'x-hearth-session'], maxAge: 600 });

  app.addHook('onRequest', async (req, reply) => {
    if (draining) reply.header('connection', 'close');
    // health checks (load balancers) and CORS preflights carry no key; /health shows nothing private
    if (req.method === 'OPTIONS' || req.url === '/health') return;
    if (draining) throw new HearthError('ENGINE_UNLOADED', 'The server is shutting down.', { hint: 'Retry against another server, or in a moment.' });
    setAuth(req, { key: keys.check(req.headers.authorization) });
  });

  app.get('/health', async (_req, reply) => {
    const ok = model.ready && !draining;
    if (!ok) reply.code(503).header('retry-after', '5');
    return { status: ok ? 'ok' : draining ? 'draining' : 'loading', model: model.id, ...(model.audioId ? { audio_model: model.audioId } : {}), queue: scheduler.stats, requests: ctx.requests, reloads: model.reloads };
  });
  // endpoints, one module each: add new ones (audio, embeddings) to this list
  for (const routes of [openaiRoutes, sessionRoutes, audioRoutes]) routes(app, ctx);

  let closing: Promise<void> | null = null;
  return {
    app,
    model,
    scheduler,
    requests: ctx.requests,
    async listen() {
      return app.listen({ host, port });
    },
    close() {
      closing ??= (async () => {
        draining = true;
        const stopped = app.close(); // no new connections; requests admitted or queued go on
        await scheduler.whenIdle();
        app.server.closeAllConnections?.();
        await stopped;
        await model.close();
      })();
      return closing;
    },
  };
}
