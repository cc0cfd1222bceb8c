/**
 * Memory over time in the browser (issue 16), through the public API in headless Chromium:
 * load/unload cycles and requests with random aborts on one worker whose GPU buffers are counted
 * (pages/memory.worker.ts wraps createBuffer/destroy), and engines with their own workers, each of
 * which must end. `npm test` runs a short version; HEARTH_MEMORY_FULL=1 runs 50 cycles and 500
 * requests (the figures in bench/results/*-memory-browser.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type ViteDevServer } from 'vite';
import { chromium, type Browser, type Page } from 'playwright';
import { readFileSync } from 'node:fs';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/browser.js';
import { startHubServer, type HubServer } from '../helpers/hub-server.js';
import { STORIES } from '../helpers/stories.js';

const FULL = process.env.HEARTH_MEMORY_FULL === '1';
const CYCLES = FULL ? 50 : 8;
const REQUESTS = FULL ? 500 : 40;
const MODEL = 'tinyllamas/stories260K/stories260K.gguf';

let hub: HubServer;
let vite: ViteDevServer;
let browser: Browser;
let page: Page;
let endpoint: string;

beforeAll(async () => {
  hub = await startHubServer({ files: { [MODEL]: readFileSync(STORIES) } });
  vite = await createServer({
    root: process.cwd(),
    logLevel: 'error',
    configFile: false,
    server: { host: '127.0.0.1', port: 0, proxy: { '/hub': { target: hub.url, rewrite: (p) => p.replace(/^\/hub/, '') } } },
  });
  await vite.listen();
  const origin = vite.resolvedUrls!.local[0]!.replace(/\/$/, '');
  endpoint = `${origin}/hub`;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, '--js-flags=--expose-gc', '--enable-precise-memory-info'] });
  page = await browser.newPage();
  page.on('console', (m) => m.type() === 'error' && console.log('[page]', m.text()));
  await page.goto(`${origin}/test/browser/pages/memory.html`);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true, undefined, { timeout: 60_000 });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await vite?.close();
  await hub?.close();
});

const mib = (n: number) => (n / 2 ** 20).toFixed(2);

describe('memory over time in the browser worker', () => {
  it(`${CYCLES} load/unload cycles on one worker leave no GPU buffer behind and a flat heap`, async () => {
    const r = (await page.evaluate(`window.hearthTest.cycles(${JSON.stringify(MODEL)}, ${JSON.stringify(endpoint)}, ${CYCLES})`)) as { buffers: number[]; heaps: number[]; left: string[] };
    console.log(`cycles: live GPU buffers after each unload ${JSON.stringify(r.buffers)} (${JSON.stringify(r.left)}); page heap MiB ${r.heaps.map(mib).join(' -> ')}`);
    expect(r.buffers).toHaveLength(CYCLES);
    // what stays is the device's one shared 16-byte zero bias (kernels/matmul.ts), made once per
    // device and reused by every load; nothing else, and never growing
    expect(new Set(r.buffers).size).toBe(1);
    expect(r.left.every((l) => l === 'matmul.no-bias')).toBe(true);
    expect(r.buffers[0]).toBeLessThanOrEqual(1);
    expect(r.heaps[r.heaps.length - 1]! - r.heaps[0]!).toBeLessThan(4 * 2 ** 20);
  }, FULL ? 900_000 : 240_000);

  it(`${REQUESTS} requests with random aborts: every one completes or is ABORTED, no GPU buffer or heap growth`, async () => {
    const r = (await page.evaluate(`window.hearthTest.requests(${JSON.stringify(MODEL)}, ${JSON.stringify(endpoint)}, ${REQUESTS})`)) as {
      before: { buffers: number; heap: number };
      after: { buffers: number; heap: number };
      unloaded: number;
      aborted: number;
      completed: number;
      other: string[];
    };
    console.log(`requests: ${r.completed} completed, ${r.aborted} aborted; live GPU buffers ${r.before.buffers} -> ${r.after.buffers}, after unload ${r.unloaded}; page heap MiB ${mib(r.before.heap)} -> ${mib(r.after.heap)}`);
    expect(r.other).toEqual([]);
    expect(r.completed + r.aborted).toBe(REQUESTS);
    expect(r.aborted).toBeGreaterThan(0);
    expect(r.after.buffers).toBe(r.before.buffers);
    expect(r.unloaded).toBeLessThanOrEqual(1); // the device's shared zero bias
    expect(r.after.heap - r.before.heap).toBeLessThan(4 * 2 ** 20);
  }, FULL ? 1_200_000 : 240_000);

  it('engines with their own workers end them all', async () => {
    const r = (await page.evaluate(`window.hearthTest.ownWorkers(${JSON.stringify(MODEL)}, ${JSON.stringify(endpoint)}, 4)`)) as { started: number; terminated: number };
    expect(r.started).toBe(4);
    expect(r.terminated).toBe(4);
  }, 240_000);
});
