/**
 * What every route of the server shares: the model, the admission queue in front of it, the API
 * keys, the logging policy. Routes are plain functions `(app, ctx) => void` (see routes/), so a
 * new endpoint (audio transcription, embeddings) is one more module in server.ts's list.
 */
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { ModelHost } from './model.js';
import type { ApiKeys } from './auth.js';
import type { QueueStats, Slot } from '../util/fair-queue.js';

/**
 * The seam between HTTP and the engine: a request holds a slot while it runs. Today a FairQueue
 * (bounded, round-robin across clients) admits `maxConcurrent` requests to an engine that runs
 * them one at a time; a batching scheduler (several sequences decoded in one forward pass) takes
 * its place by implementing this, with no change to the routes.
 */
export interface Scheduler {
  acquire(client: string, signal?: AbortSignal): Promise<Slot>;
  readonly stats: QueueStats;
  retryAfterSeconds(): number;
  whenIdle(): Promise<void>;
}

export interface ServeContext {
  model: ModelHost;
  scheduler: Scheduler;
  keys: ApiKeys;
  /** Log prompt and reply text (off by default: a privacy default). */
  logContent: boolean;
  /** Sessions are kept on disk (--sessions DIR); off, the session extension is refused. */
  sessions: boolean;
  /** Largest audio file a transcription request may upload (bytes). */
  maxAudioBytes: number;
  log: FastifyBaseLogger;
  /** Generations so far, by how they ended. */
  requests: RequestCounts;
}

export interface RequestCounts {
  ok: number;
  /** The client went away mid-request: its generation was aborted. */
  clientGone: number;
  error: number;
  /** Turned away: the queue was full (429). */
  rejected: number;
}

/** Per-request state the auth hook leaves for the routes. */
export interface RequestAuth {
  /** Index of the API key used; -1 when keys are off. */
  key: number;
}

const AUTH = Symbol('hearth-auth');

export function setAuth(req: FastifyRequest, auth: RequestAuth): void {
  (req as unknown as Record<symbol, RequestAuth>)[AUTH] = auth;
}

export function authOf(req: FastifyRequest): RequestAuth {
  return (req as unknown as Record<symbol, RequestAuth | undefined>)[AUTH] ?? { key: -1 };
}

/** Whom a request is queued fairly as: its API key and its address. */
export function clientOf(req: FastifyRequest): string {
  return `${authOf(req).key}|${req.ip}`;
}
