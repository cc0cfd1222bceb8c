import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type ViteDevServer } from 'vite';
import { chromium, type BrowserContext, type Page } from 'playwright';
import { CHROMIUM } from '../helpers/browser.js';
import { startHubServer, type HubServer, type LoggedRequest } from '../helpers/hub-server.js';
import type { LoadArgs, LoadResult, ScenarioError } from './pages/weight-cache.scenarios.js';
import type { CachedModelInfo } from '../../src/hub/cache.js';

/**
 * The browser weight cache in headless Chromium, in a page (OPFS through createWritable, and the
 * Cache API) and in a worker (OPFS through sync access handles). The Hub is the local test server,
 * reached through Vite's proxy so that page and model share an origin; its log counts requests.
 */

const PIECE = 64 * 1024;
const SIZE = 20 * PIECE + 12_345; // not a whole number of pieces
const REPO = 'test/tiny';
const WEIGHTS = 'model.safetensors';

let root: string;
let hub: HubServer;
let vite: ViteDevServer;
let profile: string;
let context: BrowserContext;
let pageUrl: string;
let endpoint: string;
let weights: Uint8Array;
let weightsSha: string;

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function writeWeights(b: Uint8Array): void {
  writeFileSync(join(root, REPO, WEIGHTS), b);
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'hearth-weight-cache-'));
  mkdirSync(join(root, REPO), { recursive: true });
  weights = bytes(SIZE, 7);
  weightsSha = sha(weights);
  writeWeights(weights);
  writeFileSync(join(root, REPO, 'config.json'), JSON.stringify({ model_type: 'llama', hidden_size: 64 }));
  const vocab = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`tok${i}`, i]));
  writeFileSync(join(root, REPO, 'tokenizer.json'), JSON.stringify({ model: { type: 'BPE', vocab } }));
  writeFileSync(join(root, REPO, 'README.md'), '# tiny\n');
  hub = await startHubServer({ root });
  vite = await createServer({
    root: process.cwd(),
    logLevel: 'error',
    configFile: false,
    server: { host: '127.0.0.1', port: 0, proxy: { '/hub': { target: hub.url, rewrite: (p) => p.replace(/^\/hub/, '') } } },
  });
  await vite.listen();
  const base = vite.resolvedUrls!.local[0]!;
  pageUrl = `${base}test/browser/pages/weight-cache.html`;
  endpoint = `${new URL(base).origin}/hub`;
  // a real profile on disk, not an incognito context: there the Cache API keeps accounting
  // entries that were once read even after they are deleted, and storage lives in memory
  profile = mkdtempSync(join(tmpdir(), 'hearth-weight-cache-profile-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

afterAll(async () => {
  await context?.close();
  await vite?.close();
  await hub?.close();
  if (root) rmSync(root, { recursive: true, force: true });
  if (profile) rmSync(profile, { recursive: true, force: true });
});

type Where = 'page' | 'worker';
type Outcome<T> = { ok: true; value: T } | { ok: false; error: ScenarioError };

async function openPage(): Promise<Page> {
  const page = await context.newPage();
  await page.goto(pageUrl);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
  return page;
}

function scenario<T>(page: Page, where: Where, name: string, args: Partial<LoadArgs> & { namespace: string; backend: LoadArgs['backend']; key?: string }): Promise<Outcome<T>> {
  const full = { endpoint, repo: REPO, weights: WEIGHTS, pieceBytes: PIECE, ...args };
  return page.evaluate(
    ([w, n, a]) => (window as unknown as { scenario: (w: string, n: string, a: unknown) => Promise<Outcome<T>> }).scenario(w, n, a),
    [where, name, full] as const,
  );
}

function value<T>(o: Outcome<T>): T {
  if (!o.ok) throw new Error(`scenario failed: ${o.error.code} ${o.error.message}`);
  return o.value;
}

const weightGets = (): LoggedRequest[] => hub.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/${WEIGHTS}`));
const rangeStart = (r: LoggedRequest): number => Number(/^bytes=(\d+)-/.exec(r.range ?? '')?.[1] ?? NaN);
const key = (): string => `hf:${endpoint}/${REPO}@main`;

function expectLoaded(r: LoadResult): void {
  expect(r.size).toBe(SIZE);
  expect(r.digest).toBe(weightsSha);
  expect(r.sha256).toBe(weightsSha);
  expect(r.listing.sort()).toEqual(['README.md', 'config.json', 'model.safetensors', 'tokenizer.json']);
  expect(r.has).toEqual({ config: true, spm: false });
  expect(r.progress.cacheLoaded).toBe(SIZE);
}

const modes: { where: Where; backend: LoadArgs['backend'] }[] = [
  { where: 'page', backend: 'opfs' },
  { where: 'worker', backend: 'opfs' },
  { where: 'page', backend: 'cache-api' },
];

describe.each(modes)('weight cache in a $where on $backend', ({ where, backend }) => {
  const ns = (name: string): { namespace: string; backend: LoadArgs['backend'] } => ({ namespace: `${where}-${backend}-${name}`, backend });

  it('downloads once, then loads with no request at all, also after a reload', async () => {
    const page = await openPage();
    hub.reset();
    const first = value(await scenario<LoadResult>(page, where, 'load', ns('again')));
    expectLoaded(first);
    expect(first.backend).toBe(backend);
    expect(first.where).toBe(where);
    expect(weightGets().length).toBe(Math.ceil(SIZE / PIECE));
    expect(first.progress.maxDownloadLoaded).toBe(SIZE);

    hub.reset();
    const second = value(await scenario<LoadResult>(page, where, 'load', ns('again')));
    expectLoaded(second);
    expect(hub.requests).toEqual([]);
    expect(second.progress.download).toBe(0);
    expect(second.progress.cache).toBeGreaterThan(0);

    await page.reload();
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    const third = value(await scenario<LoadResult>(page, where, 'load', ns('again')));
    expectLoaded(third);
    expect(hub.requests).toEqual([]);
    await page.close();
  });

  it('lists models with their sizes, and delete() removes the files and frees the space', async () => {
    const page = await openPage();
    value(await scenario<LoadResult>(page, where, 'load', ns('delete')));
    const list = value(await scenario<CachedModelInfo[]>(page, where, 'list', ns('delete')));
    expect(list.length).toBe(1);
    const [model] = list;
    expect(model!.key).toBe(key());
    const files = Object.fromEntries(model!.files.map((f) => [f.file, f]));
    expect(Object.keys(files).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    expect(files[WEIGHTS]).toEqual({ file: WEIGHTS, size: SIZE, sha256: weightsSha, complete: true });
    expect(model!.bytes).toBe(model!.files.reduce((n, f) => n + f.size, 0));
    expect(model!.lastUsed).toBeGreaterThan(Date.now() - 60_000);

    const held = value(await scenario<string[]>(page, where, 'stored', ns('delete')));
    expect(held.length).toBeGreaterThanOrEqual(4);
    // a fresh page: nothing holds the cached bytes open while they are deleted
    await page.reload();
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    const del = value(await scenario<{ before: { usage: number }; after: { usage: number }; list: CachedModelInfo[] }>(page, where, 'delete', { ...ns('delete'), key: key() }));
    expect(del.list).toEqual([]);
    expect(value(await scenario<string[]>(page, where, 'stored', ns('delete')))).toEqual([]);
    // the Cache API accounts freed space a moment later than OPFS does
    let usage = del.after.usage;
    for (let i = 0; i < 50 && del.before.usage - usage < SIZE; i++) {
      await new Promise((r) => setTimeout(r, 100));
      usage = value(await scenario<{ usage: number }>(page, where, 'estimate', ns('delete'))).usage;
    }
    expect(del.before.usage - usage).toBeGreaterThanOrEqual(SIZE);

    hub.reset();
    value(await scenario<LoadResult>(page, where, 'load', ns('delete')));
    expect(weightGets().length).toBe(Math.ceil(SIZE / PIECE));
    await page.close();
  });

  it('resumes an aborted download with a Range request for the rest only', async () => {
    const page = await openPage();
    const aborted = await scenario<LoadResult>(page, where, 'load', { ...ns('abort'), abortAt: 5 * PIECE });
    expect(aborted.ok).toBe(false);
    if (!aborted.ok) expect(aborted.error.code).toBe('ABORTED');
    const [partial] = value(await scenario<CachedModelInfo[]>(page, where, 'list', ns('abort')));
    const weightInfo = partial!.files.find((f) => f.file === WEIGHTS)!;
    expect(weightInfo.complete).toBe(false);
    const small = partial!.files.filter((f) => f.file !== WEIGHTS).reduce((n, f) => n + f.size, 0);
    const stored = partial!.bytes - small;
    expect(stored).toBeGreaterThanOrEqual(5 * PIECE);
    expect(stored % PIECE).toBe(0);

    hub.reset();
    const resumed = value(await scenario<LoadResult>(page, where, 'load', ns('abort')));
    expectLoaded(resumed);
    const gets = weightGets();
    expect(rangeStart(gets[0]!)).toBe(stored);
    expect(gets[0]!.range).toMatch(/^bytes=[1-9]\d*-/);
    // nothing stored before was asked for again
    expect(Math.min(...gets.map(rangeStart))).toBe(stored);
    // each remaining piece was fetched (a retry under load may fetch one twice: count distinct pieces)
    expect(new Set(gets.map(rangeStart)).size).toBe(Math.ceil((SIZE - stored) / PIECE));
    await page.close();
  });

  it('keeps what it stored when the tab closes mid-download', async () => {
    let page = await openPage();
    const hangAt = 6 * PIECE;
    void scenario<LoadResult>(page, where, 'load', { ...ns('close'), hangAt }).catch(() => undefined);
    await page.waitForFunction(() => (window as unknown as { events: string[] }).events.includes('stored-up-to-hang'));
    await page.close();

    page = await openPage();
    hub.reset();
    const resumed = value(await scenario<LoadResult>(page, where, 'load', ns('close')));
    expectLoaded(resumed);
    const first = rangeStart(weightGets()[0]!);
    if (where === 'page' && backend === 'opfs') {
      // createWritable() lands its bytes only on close(), which a closing tab never reaches
      expect(first).toBe(0);
    } else {
      expect(first).toBe(hangAt);
    }
    await page.close();
  });
});

describe('weight cache checks', () => {
  it('deletes a file whose sha256 does not match the LFS oid, keeping the rest', async () => {
    const page = await openPage();
    const args = { namespace: 'integrity', backend: 'opfs' as const };
    try {
      // the listing (with the LFS oid of the real weights) is taken, then the server starts serving other bytes
      value(await scenario(page, 'worker', 'prepare', args));
      const bad = weights.slice();
      bad[SIZE - 1]! ^= 1;
      writeWeights(bad);
      const opened = await scenario<number>(page, 'worker', 'openHeld', args);
      expect(opened.ok).toBe(false);
      if (!opened.ok) {
        expect(opened.error.code).toBe('INTEGRITY');
        expect(opened.error.message).toContain(weightsSha);
        expect(opened.error.message).toContain(sha(bad));
      }
    } finally {
      writeWeights(weights);
    }
    const [model] = value(await scenario<CachedModelInfo[]>(page, 'worker', 'list', args));
    expect(model!.files.map((f) => [f.file, f.complete])).toEqual([['config.json', true]]);
    expect(model!.bytes).toBe(model!.files[0]!.size);

    hub.reset();
    expectLoaded(value(await scenario<LoadResult>(page, 'worker', 'load', args)));
    expect(hub.count('/config.json')).toBe(0);
    expect(weightGets().length).toBe(Math.ceil(SIZE / PIECE));
    await page.close();
  });

  it('refuses to start a download the storage estimate has no room for', async () => {
    const page = await openPage();
    const space = { quota: 10_000_000, usage: 10_000_000 - 200_000 };
    hub.reset();
    const r = await scenario<LoadResult>(page, 'worker', 'load', { namespace: 'quota', backend: 'opfs', space });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('QUOTA_EXCEEDED');
      expect(r.error.details).toMatchObject({ file: WEIGHTS, needed: SIZE, free: 200_000 });
      expect(r.error.message).toMatch(/1\.\d+ MB more are needed, and 200 kB is free/);
      expect(r.error.message).toMatch(/[Dd]elete cached models/);
    }
    expect(weightGets()).toEqual([]);
    await page.close();
  });

  it('turns a QuotaExceededError while writing into QUOTA_EXCEEDED, for each backend', async () => {
    const page = await openPage();
    const cdp = await context.newCDPSession(page);
    const origin = new URL(pageUrl).origin;
    const usage = value(await scenario<{ usage: number }>(page, 'page', 'estimate', { namespace: 'x', backend: 'opfs' })).usage;
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: usage + SIZE / 2 });
    try {
      // the estimate is told there is room, so the shortfall only shows when the writes fail
      const space = { quota: 1e12, usage: 0 };
      for (const [where, backend] of [['worker', 'opfs'], ['page', 'opfs'], ['page', 'cache-api']] as const) {
        const args = { namespace: `write-quota-${where}-${backend}`, backend, space };
        const r = await scenario<LoadResult>(page, where, 'load', args);
        expect(r.ok, `${where} ${backend}`).toBe(false);
        if (!r.ok) expect([where, backend, r.error.code, r.error.message]).toEqual([where, backend, 'QUOTA_EXCEEDED', expect.stringMatching(/storage/)]);
        // what a failed download left behind can be cleared, and that gives the room back for the next one
        value(await scenario(page, where, 'clear', args));
      }
    } finally {
      await cdp.send('Storage.overrideQuotaForOrigin', { origin });
    }
    await page.close();
  });
});
