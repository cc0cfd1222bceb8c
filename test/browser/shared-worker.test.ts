/**
 * One engine for every tab (createEngine({ shared: true })): two pages of one origin in headless
 * Chromium load stories260K, and the SharedWorker loads it once; both stream the known greedy
 * text at the same time (their requests queued fairly); an abort in one tab ends only its own
 * request; a tab closed mid-request has it ended; the model stays while a tab still uses it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright';
import { readFileSync } from 'node:fs';
import { launchChromium } from '../helpers/browser.js';
import { callPage as call, openTestPage, servePages, type PageServers } from '../helpers/pages.js';
import { KNOWN_TEXT, STORIES } from '../helpers/stories.js';

let servers: PageServers;
let browser: Browser;
let context: BrowserContext;

beforeAll(async () => {
  servers = await servePages({ 'tinyllamas/stories260K/stories260K.gguf': readFileSync(STORIES) });
  browser = await launchChromium();
  context = await browser.newContext();
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await servers?.close();
});

const openPage = () => openTestPage(context, `${servers.base}test/browser/pages/shared.html`);

type Stats = { loads: number; tabs: number; active: number; queued: number };
type Streamed = { text: string; chunks: number; error: { code: string } | null };

describe('one engine shared by the tabs of an origin', () => {
  it('two tabs, one model load; fair turns; an abort touches only its own tab', async () => {
    const a = await openPage();
    const b = await openPage();
    const loadA = await call<{ phases: string[]; shared: boolean; memoryBytes: number }>(a, 'load', 'tinyllamas/stories260K', servers.endpoint);
    expect(loadA.shared).toBe(true);
    expect(loadA.phases).toContain('upload');
    const loadB = await call<{ phases: string[]; shared: boolean; memoryBytes: number }>(b, 'load', 'tinyllamas/stories260K', servers.endpoint);
    // the second tab joins the model already on the GPU: nothing downloaded or uploaded again
    expect(loadB.phases).toEqual([]);
    expect(loadB.memoryBytes).toBe(loadA.memoryBytes);
    expect(await call<Stats>(b, 'stats')).toMatchObject({ loads: 1, tabs: 2 });

    // both tabs at once: each gets the known greedy text
    const [sa, sb] = await Promise.all([call<Streamed>(a, 'stream', 20), call<Streamed>(b, 'stream', 20)]);
    for (const s of [sa, sb]) {
      expect(s.error).toBeNull();
      expect(s.text.length).toBeGreaterThan(30);
      expect(KNOWN_TEXT.startsWith(s.text)).toBe(true);
    }

    // tab A aborts its long request; tab B's, queued behind it, runs in full
    const [aborted, whole] = await Promise.all([call<Streamed>(a, 'stream', 200, 4), call<Streamed>(b, 'stream', 24)]);
    expect(aborted.error?.code).toBe('ABORTED');
    expect(aborted.chunks).toBeLessThan(20);
    expect(whole.error).toBeNull();
    expect(KNOWN_TEXT.startsWith(whole.text)).toBe(true);
    expect(whole.text.length).toBeGreaterThan(40);
    expect(await call<Stats>(b, 'stats')).toMatchObject({ loads: 1, tabs: 2, active: 0, queued: 0 });

    // tab C closes in the middle of a long request: the worker ends it and lets go of the model for C
    const c = await openPage();
    await call(c, 'load', 'tinyllamas/stories260K', servers.endpoint);
    const cut = call<Streamed>(c, 'stream', 200, 1000).catch(() => null);
    await expect.poll(() => call<Stats>(b, 'stats'), { timeout: 30_000 }).toMatchObject({ tabs: 3, active: 1 });
    await c.close();
    await cut;
    await expect.poll(() => call<Stats>(b, 'stats'), { timeout: 30_000 }).toMatchObject({ loads: 1, tabs: 2, active: 0, queued: 0 });

    // tab A leaves; the model stays for tab B
    await call(a, 'unload');
    const after = await call<Streamed>(b, 'stream', 8);
    expect(after.error).toBeNull();
    expect(KNOWN_TEXT.startsWith(after.text)).toBe(true);
    expect(await call<Stats>(b, 'stats')).toMatchObject({ loads: 1, tabs: 1 });
    await call(b, 'unload');
  }, 180_000);
});
