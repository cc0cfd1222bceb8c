/**
 * Device loss in the browser worker (issue 16): the GPU device destroyed mid-generation ends the
 * pending stream with DEVICE_LOST (a HearthError with what happened and what to do, across the
 * worker boundary, not a bare AbortError), later requests say the same, engine.info reports it,
 * and a new engine runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type ViteDevServer } from 'vite';
import type { BrowserContext } from 'playwright';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchPersistentChromium } from '../helpers/browser.js';
import { startHubServer, type HubServer } from '../helpers/hub-server.js';
import { KNOWN_IDS, STORIES } from '../helpers/stories.js';

let hub: HubServer;
let vite: ViteDevServer;
let context: BrowserContext;
let profile: string;

beforeAll(async () => {
  hub = await startHubServer({ files: { 'tinyllamas/stories260K/stories260K.gguf': readFileSync(STORIES) } });
  vite = await createServer({
    root: process.cwd(),
    logLevel: 'error',
    configFile: false,
    server: { host: '127.0.0.1', port: 0, proxy: { '/hub': { target: hub.url, rewrite: (p) => p.replace(/^\/hub/, '') } } },
  });
  await vite.listen();
  profile = mkdtempSync(join(tmpdir(), 'hearth-device-loss-'));
  context = await launchPersistentChromium(profile);
}, 120_000);

afterAll(async () => {
  await context?.close();
  await vite?.close();
  await hub?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

interface Failure {
  code: string;
  message: string;
  hint: string;
  name: string;
}

describe('device loss in the worker engine', () => {
  it('DEVICE_LOST for the pending and later requests; a new engine runs', async () => {
    const base = vite.resolvedUrls!.local[0]!;
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') console.log('[page]', m.text());
    });
    await page.goto(`${base}test/browser/pages/device-loss.html`);
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    const endpoint = `${new URL(base).origin}/hub`;
    const r = await page.evaluate(
      ([m, e]) => (window as unknown as { hearthTest: { loseDeviceMidStream: (m: string, e: string) => Promise<unknown> } }).hearthTest.loseDeviceMidStream(m!, e!),
      ['tinyllamas/stories260K', endpoint],
    ) as { chunks: number; pending: Failure | null; later: Failure | null; laterChat: Failure | null; deviceLost: boolean; freshIds: number[]; freshLost: boolean };
    expect(r.pending, 'the stream should fail').not.toBeNull();
    expect(r.pending!.code, r.pending!.message).toBe('DEVICE_LOST');
    expect(r.pending!.name).toBe('HearthError');
    expect(r.pending!.message).toMatch(/The GPU device was lost/);
    expect(r.pending!.hint).toMatch(/create a new one/);
    expect(r.chunks).toBeLessThan(20);
    expect(r.later?.code).toBe('DEVICE_LOST');
    expect(r.laterChat?.code).toBe('DEVICE_LOST');
    expect(r.deviceLost).toBe(true);
    expect(r.freshIds).toEqual(KNOWN_IDS.slice(0, 5));
    expect(r.freshLost).toBe(false);
    await page.close();
  }, 180_000);
});
