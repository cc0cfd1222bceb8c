/**
 * The demo as `npm run demo` starts it with no arguments: the BUILT demo serving the default
 * models (scripts/models.mjs defaultModels(): SmolLM2-135M-Instruct from $HEARTH_MODELS, fetched by
 * scripts/fetch-models.sh), in headless Chromium on SwiftShader. A newcomer sees the local model
 * marked ready, loads it with one click, asks a question greedily and gets a real answer, with no
 * ChatML tokens in the text and no request leaving 127.0.0.1. Screenshots go to test-results/.
 *
 * SwiftShader is slow (SmolLM2 prefill about 2-3 tok/s, decode 1-2 tok/s): replies are kept short.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { openDemo, SHOTS, type DemoBrowser } from '../helpers/demo.js';
import { defaultModels, modelsDir } from '../../scripts/models.mjs';

const MODELS = defaultModels();
const SMOL = basename(MODELS[0]!);

let demo: DemoBrowser;
let page: Page;

beforeAll(async () => {
  const missing = MODELS.filter((p) => !existsSync(p));
  if (missing.length) {
    throw new Error(`${missing.join(', ')} is missing: run \`bash scripts/fetch-models.sh\` (it fetches the model files into ${modelsDir()}; HEARTH_MODELS picks another folder), then run this test again.`);
  }
  demo = await openDemo(MODELS, 'demo-default');
  page = demo.page;
}, 120_000);

afterAll(async () => {
  await demo?.close();
});

const replyText = (p: Page) => p.evaluate(() => [...document.querySelectorAll('.msg-assistant .msg-body')].pop()?.textContent?.trim() ?? '');

describe('npm run demo with no arguments', () => {
  it('lists SmolLM2-135M-Instruct first, marked ready with no download, above the Hub models', async () => {
    await page.goto(demo.url);
    const local = page.locator('#local-list li', { hasText: SMOL });
    await local.waitFor();
    expect(await page.locator('#local-list li').count()).toBe(1);
    expect(await local.locator('.badge-ready').textContent()).toBe('ready');
    expect(await local.textContent()).toMatch(/98\.\d MB · served locally, no download/);
    expect(await page.textContent('#local-title')).toContain('Ready to chat');
    // the served model comes before the Hub's, which stay on offer
    const order = await page.evaluate(() => [...document.querySelectorAll('#picker-view .picker-section')].map((s) => s.id || s.getAttribute('aria-labelledby')));
    expect(order.indexOf('local-section')).toBeLessThan(order.indexOf('rec-title'));
    expect(await page.locator('#recommended .rec-card').count()).toBeGreaterThan(0);
    await page.waitForFunction(() => document.querySelector('#gpu-status')?.getAttribute('data-state') === 'ok');
    await page.screenshot({ path: join(SHOTS, 'demo-default-picker.png') });
  });

  it('loads it with one click and answers "What is the capital of France?" with Paris, greedily', async () => {
    await page.locator('#local-list li', { hasText: SMOL }).getByRole('button', { name: 'Load' }).click();
    await page.locator('#chat-view').waitFor({ state: 'visible', timeout: 120_000 });
    expect(await page.textContent('#model-name')).toBe('SmolLM2-135M-Instruct.Q4_1');
    // a chat model (ChatML template in the GGUF), so the empty chat invites a question
    expect(await page.textContent('#empty-text')).toContain('Ask it anything');

    // greedy and short: the same reply every run, in reasonable time on SwiftShader
    await page.fill('[name="temperature"]', '0');
    await page.fill('[name="maxTokens"]', '16');
    await page.focus('#prompt');
    await page.keyboard.type('What is the capital of France?');
    await page.keyboard.press('Enter');
    await page.locator('.msg-user', { hasText: 'What is the capital of France?' }).waitFor();
    await page.locator('.msg-assistant[data-status="done"]').waitFor({ timeout: 150_000 });

    const reply = await replyText(page);
    expect(reply).toMatch(/Paris/);
    const shown = (await page.textContent('#messages')) ?? '';
    for (const token of ['<|im_start|>', '<|im_end|>', 'im_start', 'im_end']) expect(shown).not.toContain(token);
    expect(await page.locator('.msg-assistant .notice').count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'demo-default-chat.png') });
  }, 300_000);

  it('sent no request anywhere but 127.0.0.1, and raised no page error', () => {
    const away = demo.requests.filter((u) => /^(https?|wss?):/i.test(u) && new URL(u).hostname !== '127.0.0.1');
    expect(away).toEqual([]);
    expect(demo.requests.some((u) => u.includes(`/local-models/${SMOL}`))).toBe(true);
    expect(demo.pageErrors).toEqual([]);
  });
});
