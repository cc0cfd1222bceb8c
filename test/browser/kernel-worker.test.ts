import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type ViteDevServer } from 'vite';
import type { Browser } from 'playwright';
import { launchChromium } from '../helpers/browser.js';

let server: ViteDevServer;
let browser: Browser;

beforeAll(async () => {
  server = await createServer({ root: process.cwd(), logLevel: 'error', server: { host: '127.0.0.1', port: 0 }, configFile: false });
  await server.listen();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('browser smoke', () => {
  it('runs a WGSL kernel inside a Web Worker on the browser WebGPU adapter, matching the reference', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const url = `${server.resolvedUrls!.local[0]}test/browser/pages/kernel-worker.html`;
    await page.goto(url);
    const result = (await page.evaluate('window.result')) as { error?: string; maxErr: number; inWorker: boolean; adapter: { vendor: string } };
    expect(result.error).toBeUndefined();
    expect(errors).toEqual([]);
    expect(result.inWorker).toBe(true);
    expect(result.maxErr).toBeLessThan(1e-4);
    await page.close();
  });
});
