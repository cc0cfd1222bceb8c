/**
 * The kernel lab page of the BUILT demo in headless Chromium (SwiftShader's WebGPU): the small
 * preset runs with every check passing, the roofline is measured and charted, the JSON export
 * holds every row, a typed shape adds rows, Stop stops, the page fits a phone, and a browser
 * without WebGPU gets a plain explanation. Screenshots go to test-results/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright';
import { mkdirSync } from 'node:fs';
import { launchChromium } from '../helpers/browser.js';
import { startBuiltDemo } from '../helpers/demo.js';
import { LAB_FAMILIES, WHISPER_FAMILIES } from '../../src/lab/types.js';

const SHOTS = 'test-results';

let demo: { url: string; close: () => Promise<void> };
let browser: Browser;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  demo = await startBuiltDemo([]);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await demo?.close();
});

interface ExportedRow {
  family: string;
  shape: string;
  pass: boolean;
  ms: number;
  gflops: number;
}
interface Exported {
  schema: string;
  date: string;
  userAgent: string;
  adapter: { vendor: string; architecture: string; features: string[]; limits: Record<string, number>; hearthFeatures: Record<string, boolean> };
  roofline: { readGBps: number; fmaGflops: number; timing: string };
  rows: ExportedRow[];
}

const state = (page: Page): Promise<string | undefined> => page.evaluate(() => document.body.dataset.labState);
const waitState = (page: Page, s: string, timeout = 30_000) =>
  page.waitForFunction((want) => document.body.dataset.labState === want, s, { timeout, polling: 250 });

/** Rows of the results table (error detail lines left out) as the user sees them. */
const tableRows = (page: Page) =>
  page.$$eval('#results-body tr:not(.row-error)', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim() ?? '')));

async function openLab(width: number, height: number): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width, height } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(`${demo.url}lab.html`);
  return { page, errors };
}

/** No element makes the page itself scroll sideways (the results table scrolls in its own box). */
const overflowX = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

describe('kernel lab page (built demo)', () => {
  it('runs the small preset: every check passes, the roofline is charted, the export holds every row; fits a phone', { timeout: 160_000 }, async () => {
    const { page, errors } = await openLab(1280, 900);
    await waitState(page, 'ready');
    expect(await page.inputValue('#preset')).toBe('small');
    const info = await page.textContent('#device');
    expect(info).toContain('swiftshader');
    expect(info).toContain('timestamp-query');
    const planned = Number((await page.textContent('#case-count'))!.match(/^(\d+) kernels/)![1]);
    expect(planned).toBeGreaterThan(25);

    await page.click('#run');
    expect(await page.isVisible('#stop')).toBe(true);
    // ~25 s on an idle two-core machine; the margin is for a machine busy with other tests
    await waitState(page, 'done', 110_000);

    const rows = await tableRows(page);
    expect(rows).toHaveLength(planned);
    const failed = rows.filter((r) => r[5] !== 'pass');
    expect(failed, JSON.stringify(failed)).toEqual([]);
    const families = await page.$$eval('#results-body tr[data-family]', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.family));
    expect(new Set(families)).toEqual(new Set(LAB_FAMILIES));
    // Whisper's kernels (LayerNorm, GELU, conv1d, add rows, full attention) ran and matched the reference
    const whisperRows = await page.$$eval('#results-body tr[data-family]', (trs) =>
      trs.map((tr) => ({ family: (tr as HTMLElement).dataset.family!, cells: [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim() ?? '') })),
    );
    for (const f of WHISPER_FAMILIES) {
      const mine = whisperRows.filter((r) => r.family === f);
      expect(mine.length, f).toBeGreaterThan(0);
      expect(mine.every((r) => r.cells[5] === 'pass'), `${f}: ${JSON.stringify(mine)}`).toBe(true);
    }
    expect(whisperRows.filter((r) => r.family === 'attention_full').map((r) => r.cells[2]).sort()).toEqual(['direct', 'direct', 'matmul']);
    expect(await page.textContent('#summary')).toBe(`${planned} passed`);
    expect(await page.textContent('#progress-text')).toMatch(/^Done: \d+ kernels in .*every check passed/);

    // the roofline: positive numbers, a chart.js instance with both lines and every point, pixels drawn
    const chart = await page.evaluate(() => {
      const lab = (window as unknown as { hearthLab: { chart: { data: { datasets: { type?: string; data: unknown[] }[] } } } }).hearthLab;
      const sets = lab.chart.data.datasets;
      const canvas = document.querySelector<HTMLCanvasElement>('#chart')!;
      const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let inked = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i]! > 0) inked++;
      return { lines: sets.filter((s) => s.type === 'line').length, points: sets.filter((s) => s.type === 'scatter').reduce((n, s) => n + s.data.length, 0), inked, area: canvas.width * canvas.height };
    });
    expect(chart.lines).toBe(2);
    expect(chart.points).toBe(planned);
    expect(chart.inked).toBeGreaterThan(chart.area * 0.01);

    const href = await page.getAttribute('#export', 'href');
    expect(href).toMatch(/^blob:/);
    const exported = (await page.evaluate((u) => fetch(u).then((r) => r.json()), href!)) as Exported;
    expect(exported.schema).toBe('hearth-kernel-lab/1');
    expect(exported.roofline.readGBps).toBeGreaterThan(0);
    expect(exported.roofline.fmaGflops).toBeGreaterThan(0);
    expect(exported.rows).toHaveLength(planned);
    expect(exported.rows.every((r) => r.pass && r.ms > 0 && r.gflops > 0)).toBe(true);
    expect(exported.rows.map((r) => r.shape)).toEqual(rows.map((r) => r[4]));
    expect(exported.adapter.architecture).toBe('swiftshader');
    expect(exported.adapter.features).toContain('timestamp-query');
    expect(exported.adapter.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(exported.userAgent).toContain('Chrome');
    expect(Date.parse(exported.date)).toBeGreaterThan(0);
    const stats = await page.textContent('#roofline-stats');
    expect(stats).toMatch(/GB\/s/);
    await page.screenshot({ path: `${SHOTS}/lab-desktop.png`, fullPage: true });

    // a shape typed in: a bad one is refused with the reason, a good one adds a passing row
    await page.click('#custom summary');
    await page.selectOption('#custom-family', 'gemv');
    await page.fill('#custom-n', '300');
    await page.fill('#custom-k', '100');
    await page.selectOption('#custom-format', 'q4_0');
    await page.selectOption('#custom-variant', 'register');
    await page.click('#custom-run');
    expect(await page.textContent('#custom-error')).toMatch(/multiple of 32/);
    await page.fill('#custom-k', '96');
    await page.keyboard.press('Enter');
    await waitState(page, 'running', 5_000).catch(() => undefined);
    await waitState(page, 'done', 30_000);
    const after = await tableRows(page);
    expect(after).toHaveLength(planned + 1);
    expect(after.at(-1)!.slice(2, 6)).toEqual(['register', 'q4_0', '300×96', 'pass']);

    // a Whisper kernel at a typed shape: a stride-2 conv1d, both matmul variants
    await page.selectOption('#custom-family', 'conv1d');
    await page.fill('#custom-tIn', '40');
    await page.fill('#custom-cIn', '24');
    await page.fill('#custom-cOut', '20');
    await page.selectOption('#custom-stride', '2');
    await page.selectOption('#custom-variant', 'all');
    await page.click('#custom-run');
    await waitState(page, 'running', 5_000).catch(() => undefined);
    await waitState(page, 'done', 30_000);
    const conv = await tableRows(page);
    expect(conv).toHaveLength(planned + 3);
    expect(conv.slice(-2).map((r) => r.slice(2, 6))).toEqual([
      ['tiled', 'f32', 'T40 24→20 /2', 'pass'],
      ['register', 'f32', 'T40 24→20 /2', 'pass'],
    ]);
    // the matmul form of full attention is self-attention only: refused with the reason
    await page.selectOption('#custom-family', 'attention_full');
    await page.fill('#custom-tokens', '10');
    await page.fill('#custom-kvLen', '30');
    await page.selectOption('#custom-method', 'matmul');
    await page.click('#custom-run');
    expect(await page.textContent('#custom-error')).toMatch(/queries must equal keys/);
    await page.selectOption('#custom-method', 'direct');
    await page.click('#custom-run');
    await waitState(page, 'running', 5_000).catch(() => undefined);
    await waitState(page, 'done', 30_000);
    const attn = await tableRows(page);
    expect(attn).toHaveLength(planned + 4);
    expect(attn.at(-1)!.slice(2, 6)).toEqual(['direct', 'f32', 'h6 d64 T10 L30', 'pass']);

    // phone width: nothing overflows sideways
    await page.setViewportSize({ width: 375, height: 812 });
    await page.waitForTimeout(300);
    expect(await overflowX(page)).toBeLessThanOrEqual(0);
    await page.screenshot({ path: `${SHOTS}/lab-phone.png`, fullPage: true });

    // Stop ends the run after the kernel at hand
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.click('#run');
    await page.click('#stop');
    await waitState(page, 'done', 30_000);
    expect(await page.textContent('#progress-text')).toMatch(/^Stopped after \d+ of \d+ kernels/);
    expect((await tableRows(page)).length).toBeLessThan(planned);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('says plainly when the browser has no WebGPU, and offers no Run', async () => {
    const page = await browser.newPage({ viewport: { width: 375, height: 740 } });
    await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
    await page.goto(`${demo.url}lab.html`);
    await waitState(page, 'no-webgpu');
    expect(await page.isVisible('#gpu-problem')).toBe(true);
    expect(await page.textContent('#gpu-problem')).toMatch(/no WebGPU.*Chrome/s);
    expect(await page.isDisabled('#run')).toBe(true);
    expect(await overflowX(page)).toBeLessThanOrEqual(0);
    expect(await state(page)).toBe('no-webgpu');
    await page.screenshot({ path: `${SHOTS}/lab-no-webgpu.png`, fullPage: true });
    await page.close();
  });
});
