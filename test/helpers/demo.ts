import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright';
import { startDemo as start } from '../../scripts/demo-server.mjs';
import { launchPersistentChromium } from './browser.js';

/** Where demo tests put their screenshots. */
export const SHOTS = join(process.cwd(), 'test-results');

/** Serve the demo build (made once by test/setup/build-demo.ts), with local model files. */
export async function startBuiltDemo(models: string[]): Promise<{ url: string; close: () => Promise<void> }> {
  return start({ models, port: 0, quiet: true, skipBuild: true });
}

export interface DemoBrowser {
  url: string;
  context: BrowserContext;
  page: Page;
  /** Every URL the page requested, in order. */
  requests: string[];
  /** Uncaught page errors. */
  pageErrors: string[];
  close(): Promise<void>;
}

/** A Chromium profile on disk, `args` on top of the usual flags, and a desktop-sized page logging requests and page errors. */
export async function openLoggedPage(profile: string, name: string, args: string[] = []): Promise<Omit<DemoBrowser, 'url' | 'close'>> {
  const context = await launchPersistentChromium(profile, args);
  const requests: string[] = [];
  const pageErrors: string[] = [];
  context.on('request', (r) => requests.push(r.url()));
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') console.log(`[${name}]`, m.text());
  });
  await page.setViewportSize({ width: 1280, height: 800 });
  return { context, page, requests, pageErrors };
}

/**
 * The built demo serving `models`, and a desktop-sized page in headless Chromium with a profile
 * on disk (OPFS and the Cache API survive reloads), logging requests and page errors.
 */
export async function openDemo(models: string[], name: string): Promise<DemoBrowser> {
  mkdirSync(SHOTS, { recursive: true });
  const demo = await startBuiltDemo(models);
  const profile = mkdtempSync(join(tmpdir(), `hearth-${name}-`));
  const opened = await openLoggedPage(profile, 'page');
  return {
    url: demo.url,
    ...opened,
    async close() {
      await opened.context.close();
      await demo.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Visible elements that stick out past the right edge of the viewport without a clipping ancestor. */
export const overflowing = (p: Page) =>
  p.evaluate(() => {
    const out: string[] = [];
    const clipped = (el: Element) => {
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        if (getComputedStyle(a).overflowX !== 'visible' && a.getBoundingClientRect().right <= innerWidth + 0.5) return true;
      }
      return false;
    };
    for (const el of document.body.querySelectorAll('*')) {
      if (!el.checkVisibility({ visibilityProperty: true })) continue;
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > innerWidth + 0.5 && !clipped(el)) out.push(`${el.tagName.toLowerCase()}.${el.className} (${Math.round(r.right)})`);
    }
    return { scrollWidth: document.scrollingElement!.scrollWidth, innerWidth, out };
  });
