/**
 * `hearth serve` under load (a sample of bench/serve.ts's 200): requests from 8 concurrent
 * clients with random aborts; every reply that was not aborted equals the same request run
 * alone (greedy); afterwards no slot is held, nothing is queued and no GPU buffer is left behind.
 * And SIGTERM: the CLI drains the request in flight, then exits 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import OpenAI from 'openai';
import { startServer, type TestServer } from '../helpers/serve.js';
import { countBuffers } from '../helpers/gpu-buffers.js';
import { loadRequests, runLoad, send, soloReplies } from '../helpers/serve-load.js';
import { STORIES } from '../helpers/stories.js';
import { serveOptions } from '../../src/serve/cli.js';

describe('hearth serve under load', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ maxConcurrent: 1, maxQueue: 64 });
  }, 60_000);
  afterAll(async () => t?.close());

  it('40 requests from 8 clients with random aborts: complete replies equal the solo ones; nothing leaked', async () => {
    const requests = loadRequests(10, 6);
    const solo = await soloReplies(t.client, requests);
    const engine = t.server.model.current();
    const memory = engine.info.memoryBytes;
    const buffers = countBuffers(engine.engine.ctx.device);
    try {
      const r = await runLoad(t.client, requests, solo, { total: 40, clients: 8, abortRate: 0.25, abortWithinMs: 300, seed: 14 });
      expect(r.errors).toEqual([]);
      expect(r.mismatches).toEqual([]);
      expect(r.completed + r.aborted).toBe(40);
      expect(r.aborted).toBeGreaterThan(0);
      expect(r.completed).toBeGreaterThan(20);
      await t.server.scheduler.whenIdle();
      expect(t.server.scheduler.stats).toEqual({ active: 0, queued: 0, waitingKeys: 0 });
      expect(buffers.live()).toBe(0);
      expect(engine.info.memoryBytes).toBe(memory);
    } finally {
      buffers.stop();
    }
  }, 180_000);
});

describe('hearth serve --batch 4 under load (continuous batching)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ batch: 4, maxQueue: 64 });
  }, 60_000);
  afterAll(async () => t?.close());

  it('24 requests from 8 clients with random aborts: complete replies equal the solo ones; no slot, KV block or GPU buffer left', async () => {
    const requests = loadRequests(8, 6);
    const solo = await soloReplies(t.client, requests);
    const engine = t.server.model.current();
    const memory = engine.info.memoryBytes;
    const buffers = countBuffers(engine.engine.ctx.device);
    try {
      const r = await runLoad(t.client, requests, solo, { total: 24, clients: 8, abortRate: 0.25, abortWithinMs: 300, seed: 15 });
      expect(r.errors).toEqual([]);
      expect(r.mismatches).toEqual([]);
      expect(r.completed + r.aborted).toBe(24);
      expect(r.completed).toBeGreaterThan(10);
      await t.server.scheduler.whenIdle();
      expect(t.server.scheduler.stats).toEqual({ active: 0, queued: 0, waitingKeys: 0 });
      const batch = engine.engine.batching!;
      expect(batch.maxRows).toBe(4);
      expect({ active: batch.active, waiting: batch.waiting, free: batch.freeBlocks }).toEqual({ active: 0, waiting: 0, free: batch.blocks });
      expect(buffers.live()).toBe(0);
      expect(engine.info.memoryBytes).toBe(memory);
    } finally {
      buffers.stop();
    }
  }, 180_000);
});

describe('hearth serve (the CLI)', () => {
  it('reads its flags; bad ones are typed errors', () => {
    const o = serveOptions(['--model', 'm.gguf', '--port', '0', '--api-key', 'k1-12345678', '--api-key', 'k2-12345678', '--cors', 'https://a.example', '--max-queue', '4', '--context', '512', '--sessions', '/tmp/s', '--log-content'], {});
    expect(o).toMatchObject({ model: 'm.gguf', port: 0, apiKeys: ['k1-12345678', 'k2-12345678'], cors: ['https://a.example'], maxQueue: 4, contextLength: 512, sessionsDir: '/tmp/s', logContent: true });
    expect(serveOptions(['--model', 'm.gguf'], {})).toMatchObject({ host: undefined, apiKeys: [], logContent: false, batch: undefined });
    expect(serveOptions(['--model', 'm.gguf', '--batch', '8'], {})).toMatchObject({ batch: 8 });
    expect(serveOptions(['--model', 'm.gguf'], { HEARTH_API_KEY: 'from-env-123' })).toMatchObject({ apiKeys: ['from-env-123'] });
    expect(serveOptions(['--help'], {})).toBe('help');
    for (const [argv, message] of [
      [[], /--model is required/],
      [['--model', 'm', '--port', '70000x'], /--port must be an integer/],
      [['--model', 'm', '--max-concurrent', '0'], /--max-concurrent must be an integer of at least 1/],
      [['--model', 'm', '--dtype', 'q3'], /--dtype must be/],
      [['--model', 'm', '--bogus'], /Unknown option '--bogus'/],
    ] as const) {
      expect(() => serveOptions([...argv], {})).toThrow(message);
    }
  });

  it('SIGTERM drains the request in flight, then exits 0', async () => {
    const child = spawn(process.execPath, ['bin/hearth.js', 'serve', '--model', STORIES, '--port', '0', '--context', '128', '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        const m = /listening on (http:\/\/\S+)\/v1/.exec(err);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0 });
    const reply = send(client, { kind: 'completion', stream: true, body: { prompt: [1], max_tokens: 40, temperature: 0, ignore_eos: true } }, undefined, () => child.kill('SIGTERM'));
    const r = await reply;
    expect(r.aborted).toBe(false);
    expect(r.completionTokens).toBe(40);
    expect(await exited).toBe(0);
    expect(err).toMatch(/SIGTERM: draining 1 running/);
    expect(err).toMatch(/stopped/);
  }, 120_000);
});
