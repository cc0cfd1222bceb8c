/**
 * For browser tests that drive a page under test/browser/pages: the local Hugging Face server
 * (files under the Hub's URL layout), Vite serving the pages with /hub proxied to it, opening a
 * page once its script is ready, and calling the functions it puts on window.hearthTest.
 */
import { createServer, type ViteDevServer } from 'vite';
import type { BrowserContext, Page } from 'playwright';
import { startHubServer, type HubServer } from './hub-server.js';

export interface PageServers {
  hub: HubServer;
  vite: ViteDevServer;
  /** The Vite server's base URL (ends with '/'). */
  base: string;
  /** The Hub endpoint as pages see it (same origin, proxied). */
  endpoint: string;
  close(): Promise<void>;
}

export async function servePages(files: Record<string, Uint8Array>): Promise<PageServers> {
  const hub = await startHubServer({ files });
  const vite = await createServer({
    root: process.cwd(),
    logLevel: 'error',
    configFile: false,
    server: { host: '127.0.0.1', port: 0, proxy: { '/hub': { target: hub.url, rewrite: (p) => p.replace(/^\/hub/, '') } } },
  });
  await vite.listen();
  const base = vite.resolvedUrls!.local[0]!;
  return {
    hub,
    vite,
    base,
    endpoint: `${new URL(base).origin}/hub`,
    close: async () => {
      await vite.close();
      await hub.close();
    },
  };
}

/** A new page at `url`, once its script has set window.ready; page errors go to the test's log. */
export async function openTestPage(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') console.log('[page]', m.text());
  });
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
  return page;
}

type Api = Record<string, (...args: unknown[]) => Promise<unknown>>;

/** Calls window.hearthTest[fn](...args) in the page. */
export const callPage = <T>(page: Page, fn: string, ...args: unknown[]): Promise<T> =>
  page.evaluate(([f, a]) => ((window as unknown as { hearthTest: Api }).hearthTest[f as string]!)(...(a as unknown[])), [fn, args] as const) as Promise<T>;
