/** `hearth serve` in tests: a real server on 127.0.0.1 (a free port) and the official openai client. */
import OpenAI from 'openai';
import { createServer, type HearthServer, type ServeOptions } from '../../src/serve/index.js';
import { STORIES } from './stories.js';

export interface TestServer {
  server: HearthServer;
  url: string;
  client: OpenAI;
  close(): Promise<void>;
}

/**
 * HEARTH_TEST_BATCH=N runs every test server that does not set maxConcurrent itself (the queue's
 * own tests do) with continuous batching of N (`hearth serve --batch N`).
 */
const batchFromEnv = process.env.HEARTH_TEST_BATCH ? { batch: Number(process.env.HEARTH_TEST_BATCH) } : {};

/** stories260K behind a server on a free port; options as `hearth serve` takes them. */
export async function startServer(opts: Partial<ServeOptions> = {}, apiKey = opts.apiKeys?.[0] ?? 'none'): Promise<TestServer> {
  const server = await createServer({ model: STORIES, contextLength: 128, port: 0, ...(opts.maxConcurrent === undefined ? batchFromEnv : {}), ...opts });
  const url = await server.listen();
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0, timeout: 120_000 });
  return { server, url, client, close: () => server.close() };
}

/** POST a raw body (plain HTTP, no SDK): the status, headers and parsed JSON. */
export async function post(url: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const r = await fetch(url, { method: 'POST', body, headers });
  const text = await r.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: r.status, headers: r.headers, json: json as { error?: { message: string; type: string; param: string | null; code: string | null } } & Record<string, unknown> };
}

/** The OpenAI client's APIError a request fails with (anything else fails the test). */
export async function apiError(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!(e instanceof OpenAI.APIError)) throw new Error(`expected an APIError, got ${String(e)}`);
  return e;
}
