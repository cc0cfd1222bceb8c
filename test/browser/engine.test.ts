/**
 * The engine in a Web Worker, through the public API only, in headless Chromium on SwiftShader:
 * load stories260K from a (local) Hugging Face endpoint, stream its known greedy output, abort
 * and recover, reload and load from the weight cache with zero model-file requests, no request
 * at all during generation, typed errors for a corrupt file and a crashed worker, unload.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type ViteDevServer } from 'vite';
import type { BrowserContext, Page } from 'playwright';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchPersistentChromium } from '../helpers/browser.js';
import { startHubServer, type HubServer } from '../helpers/hub-server.js';
import { KNOWN_IDS, KNOWN_TEXT, STORIES } from '../helpers/stories.js';

let hub: HubServer;
let vite: ViteDevServer;
let context: BrowserContext;
let profile: string;
let pageUrl: string;
let endpoint: string;
const requests: string[] = [];

type Api = Record<string, (...args: unknown[]) => Promise<unknown>>;
const call = <T>(page: Page, fn: string, ...args: unknown[]): Promise<T> =>
  page.evaluate(([f, a]) => ((window as unknown as { hearthTest: Api }).hearthTest[f as string]!)(...(a as unknown[])), [fn, args] as const) as Promise<T>;

beforeAll(async () => {
  const gguf = readFileSync(STORIES);
  hub = await startHubServer({
    files: {
      'tinyllamas/stories260K/stories260K.gguf': gguf,
      'broken/model/model.gguf': gguf.subarray(0, 40_000),
    },
  });
  vite = await createServer({
    root: process.cwd(),
    logLevel: 'error',
    configFile: false,
    server: { host: '127.0.0.1', port: 0, proxy: { '/hub': { target: hub.url, rewrite: (p) => p.replace(/^\/hub/, '') } } },
  });
  await vite.listen();
  const base = vite.resolvedUrls!.local[0]!;
  pageUrl = `${base}test/browser/pages/engine.html`;
  endpoint = `${new URL(base).origin}/hub`;
  profile = mkdtempSync(join(tmpdir(), 'hearth-engine-profile-'));
  context = await launchPersistentChromium(profile);
  context.on('request', (r) => requests.push(r.url()));
});

afterAll(async () => {
  await context?.close();
  await vite?.close();
  await hub?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function openPage(): Promise<Page> {
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') console.log('[page]', m.text());
  });
  await page.goto(pageUrl);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
  return page;
}

describe('engine in a worker, through the public API', () => {
  let page: Page;

  it('loads stories260K from the Hub layout and streams the known greedy output', async () => {
    page = await openPage();
    const load = await call<{ ok: boolean; info: { memoryBytes: number; contextLength: number }; phases: string[] }>(page, 'load', 'tinyllamas/stories260K', endpoint);
    expect(load.ok).toBe(true);
    expect(load.info.contextLength).toBe(256);
    expect(load.info.memoryBytes).toBeGreaterThan(1_000_000);
    expect(load.phases).toEqual(expect.arrayContaining(['download', 'upload', 'compile']));

    requests.length = 0;
    const r = await call<{ text: string; ids: number[]; chunks: number; longestTask: number; maxTimerGap: number }>(page, 'stream', 48);
    expect(r.ids).toEqual(KNOWN_IDS);
    expect(r.text).toBe(KNOWN_TEXT);
    expect(r.chunks).toBeGreaterThan(10);
    // nothing leaves the page (or its worker) while generating
    expect(requests).toEqual([]);
    console.log(`main thread during generation: longest task ${r.longestTask.toFixed(0)} ms, longest 10 ms-timer gap ${r.maxTimerGap.toFixed(0)} ms`);
    expect(r.maxTimerGap).toBeLessThan(200);
  });

  it('aborting mid-stream gives ABORTED, then a new request completes correctly', async () => {
    const a = await call<{ aborted: boolean; chunks: number; error: { code: string } }>(page, 'abortMidStream');
    expect(a.aborted).toBe(true);
    expect(a.error.code).toBe('ABORTED');
    const r = await call<{ ids: number[] }>(page, 'stream', 48);
    expect(r.ids).toEqual(KNOWN_IDS);
    const chat = await call<{ content: string; usage: { completion_tokens: number } }>(page, 'chat', 'Once upon a time');
    expect(chat.usage.completion_tokens).toBeGreaterThan(0);
    expect(await call<number[]>(page, 'tokenize', 'Once upon a time')).toEqual([1, 403, 407, 261, 378]);
  });

  it('after a reload, loads from the weight cache with zero requests for model files', async () => {
    await page.close();
    hub.reset();
    page = await openPage();
    const load = await call<{ ok: boolean; phases: string[] }>(page, 'load', 'tinyllamas/stories260K', endpoint);
    expect(load.ok).toBe(true);
    expect(load.phases).toContain('cache');
    expect(hub.count()).toBe(0);
    const cached = await call<{ key: string; bytes: number }[]>(page, 'cached');
    expect(cached.some((m) => m.key.includes('tinyllamas/stories260K') && m.bytes >= 1_185_376)).toBe(true);
    expect((await call<{ ids: number[] }>(page, 'stream', 8)).ids).toEqual(KNOWN_IDS.slice(0, 8));
  });

  it('unload frees the GPU memory', async () => {
    const u = await call<{ before: number; after: number }>(page, 'unload');
    expect(u.before).toBeGreaterThan(0);
    expect(u.after).toBe(0);
  });

  it('a corrupt model file gives a typed error', async () => {
    const load = await call<{ ok: boolean; error: { code: string; isHearth: boolean; message: string } }>(page, 'load', 'broken/model', endpoint);
    expect(load.ok).toBe(false);
    expect(load.error.isHearth).toBe(true);
    expect(['TRUNCATED_FILE', 'CORRUPT_FILE']).toContain(load.error.code);
  });

  it('a crashed worker rejects pending calls with WORKER_CRASHED instead of hanging', async () => {
    expect((await call<{ ok: boolean }>(page, 'load', 'tinyllamas/stories260K', endpoint)).ok).toBe(true);
    const c = await call<{ rejected: boolean; error: { code: string } }>(page, 'crashWorker');
    expect(c.rejected).toBe(true);
    expect(c.error.code).toBe('WORKER_CRASHED');
    await page.close();
  });
});
