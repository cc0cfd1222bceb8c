/**
 * The demo's chat page as a newcomer meets it: the BUILT demo (`npm run demo -- --model
 * stories260K.gguf`), in headless Chromium on SwiftShader, driven with the keyboard. Loads the
 * served model with one click, streams a reply, stops it with Escape, checks Shift+Enter, the
 * reply stats, the phone layout, the weight cache after a reload, a broken file's error, and
 * that no request ever leaves 127.0.0.1. Screenshots go to test-results/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDemo, overflowing, SHOTS, type DemoBrowser } from '../helpers/demo.js';
import { STORIES } from '../helpers/stories.js';
import { describeCacheEntry, ggufQuant, planRepo } from '../../demo/chat/models.js';
import { stableSplit } from '../../demo/chat/stable-split.js';

let demo: DemoBrowser;
let page: Page;
let requests: string[];
let pageErrors: string[];

beforeAll(async () => {
  demo = await openDemo([STORIES], 'demo-chat');
  ({ page, requests, pageErrors } = demo);
}, 120_000);

afterAll(async () => {
  await demo?.close();
});

const replyText = (p: Page) => p.evaluate(() => [...document.querySelectorAll('.msg-assistant .msg-body')].pop()?.textContent?.trim() ?? '');

describe('the chat page of the built demo', () => {
  it('loads stories260K from the local list, streams a reply and stops it with Escape', async () => {
    await page.goto(demo.url);
    const local = page.locator('#local-list li', { hasText: 'stories260K.gguf' });
    await local.waitFor();
    expect(await local.textContent()).toContain('1.19 MB');
    await page.waitForFunction(() => document.querySelector('#gpu-status')?.getAttribute('data-state') === 'ok');
    await local.getByRole('button', { name: 'Load' }).click();
    await page.locator('.load-card').waitFor();
    await page.locator('#chat-view').waitFor({ state: 'visible', timeout: 60_000 });
    expect(await page.textContent('#model-name')).toBe('stories260K');
    // the composer takes the focus once the model is ready
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('prompt');

    // greedy, so the reply is long and the same every run; 200 tokens take a while on SwiftShader
    await page.fill('[name="temperature"]', '0');
    await page.fill('[name="maxTokens"]', '200');
    await page.focus('#prompt');
    await page.keyboard.type('Once upon a time');
    await page.keyboard.press('Enter');

    await page.locator('.msg-user', { hasText: 'Once upon a time' }).waitFor();
    expect(await page.inputValue('#prompt')).toBe('');
    await page.waitForFunction(() => ([...document.querySelectorAll('.msg-assistant .msg-body')].pop()?.textContent?.trim().length ?? 0) > 0);
    const early = await replyText(page);
    await page.waitForFunction((n) => ([...document.querySelectorAll('.msg-assistant .msg-body')].pop()?.textContent?.trim().length ?? 0) > n + 20, early.length, { timeout: 30_000 });
    const later = await replyText(page);
    expect(later.length).toBeGreaterThan(early.length);
    expect(later.startsWith(early.slice(0, 10))).toBe(true);
    const reply = page.locator('.msg-assistant').last();
    expect(await reply.getAttribute('data-status')).toBe('streaming');
    expect(await page.isVisible('#stop')).toBe(true);
    expect(await reply.locator('[data-stat="context"]').textContent()).toMatch(/\d+ \/ 2048/);
    await page.screenshot({ path: join(SHOTS, 'demo-chat-desktop-streaming.png') });

    await page.keyboard.press('Escape');
    await page.locator('.msg-assistant[data-status="stopped"]').waitFor({ timeout: 15_000 });
    expect(await reply.locator('.msg-stopped').textContent()).toBe('Stopped');
    const stopped = await replyText(page);
    expect(stopped.length).toBeGreaterThanOrEqual(later.length);
    await page.waitForTimeout(700);
    expect(await replyText(page)).toBe(stopped);
    expect(await page.isVisible('#send')).toBe(true);
    expect(await page.isVisible('#stop')).toBe(false);
  });

  it('Shift+Enter makes a newline; Enter sends; a finished reply shows its stats', async () => {
    await page.fill('[name="maxTokens"]', '24');
    await page.focus('#prompt');
    const users = await page.locator('.msg-user').count();
    await page.keyboard.type('The dog');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('ran home.');
    expect(await page.inputValue('#prompt')).toBe('The dog\nran home.');
    expect(await page.locator('.msg-user').count()).toBe(users);

    await page.keyboard.press('Enter');
    await page.locator('.msg-assistant').nth(1).and(page.locator('[data-status="done"]')).waitFor({ timeout: 60_000 });
    expect(await page.locator('.msg-user').last().textContent()).toBe('The dog\nran home.');
    const stats = page.locator('.msg-assistant').last().locator('.msg-stats');
    for (const key of ['ttft', 'prefill', 'decode', 'context']) expect(await stats.locator(`[data-stat="${key}"]`).count()).toBe(1);
    expect(await stats.locator('[data-stat="decode"]').textContent()).toMatch(/\d tok\/s/);
    const used = Number((await stats.locator('[data-stat="context"] .stat-value').textContent())!.split('/')[0]);
    expect(used).toBeGreaterThan(24);
    expect(await page.textContent('#context-meter')).toContain(`Context ${used} / 2048`);
    await page.screenshot({ path: join(SHOTS, 'demo-chat-desktop.png') });
  });

  it('JSON mode: with a schema in Settings the reply is JSON that follows it, shown indented', async () => {
    await page.selectOption('[name="replyFormat"]', 'schema');
    expect(await page.isVisible('[name="jsonSchema"]')).toBe(true);
    const schema = { type: 'object', properties: { mood: { enum: ['happy', 'sad'] }, age: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['mood', 'age'], additionalProperties: false };
    await page.fill('[name="jsonSchema"]', JSON.stringify(schema));
    await page.fill('[name="maxTokens"]', '60');
    const replies = await page.locator('.msg-assistant').count();
    await page.focus('#prompt');
    await page.keyboard.type('Lily was');
    await page.keyboard.press('Enter');
    const reply = page.locator('.msg-assistant').nth(replies);
    await reply.and(page.locator('[data-status="done"]')).waitFor({ timeout: 60_000 });
    expect(await reply.locator('.badge', { hasText: 'JSON · schema' }).count()).toBe(1);
    const code = (await reply.locator('.msg-body pre code').textContent())!;
    expect(code).toContain('\n  "'); // indented
    const value = JSON.parse(code) as { mood: string; age: number };
    expect(Object.keys(value).sort()).toEqual(['age', 'mood']);
    expect(['happy', 'sad']).toContain(value.mood);
    expect(Number.isInteger(value.age) && value.age >= 1 && value.age <= 9).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'demo-chat-json.png') });
    // a schema that is not JSON is a readable error on the reply, and the page stays usable
    await page.fill('[name="jsonSchema"]', '{"type": ');
    await page.focus('#prompt');
    await page.keyboard.type('Tom');
    await page.keyboard.press('Enter');
    await page.locator('.msg-assistant').nth(replies + 1).and(page.locator('[data-status="error"]')).waitFor({ timeout: 30_000 });
    expect(await page.locator('.msg-assistant').nth(replies + 1).textContent()).toMatch(/JSON Schema in Settings is not JSON/);
    await page.selectOption('[name="replyFormat"]', 'text');
    expect(await page.isVisible('[name="jsonSchema"]')).toBe(false);
  });

  it('Tools: a call the model makes is shown readably (its name and indented arguments), and kept with the chat', async () => {
    const tools = [{ type: 'function', function: { name: 'get_time', description: 'The time in a zone', parameters: { type: 'object', properties: { zone: { enum: ['utc', 'cet'] } }, required: ['zone'], additionalProperties: false } } }];
    await page.fill('[name="tools"]', JSON.stringify(tools));
    await page.fill('[name="maxTokens"]', '200');
    await page.fill('[name="temperature"]', '1');
    // stories260K knows no tools: required makes it call one
    await page.selectOption('[name="toolChoice"]', 'required');
    const replies = await page.locator('.msg-assistant').count();
    await page.focus('#prompt');
    await page.keyboard.type('What time is it?');
    await page.keyboard.press('Enter');
    const reply = page.locator('.msg-assistant').nth(replies);
    await reply.and(page.locator('[data-status="done"]')).waitFor({ timeout: 60_000 });
    const call = reply.locator('.tool-call').first();
    expect(await call.getAttribute('data-name')).toBe('get_time');
    expect(await call.locator('.tool-call-name').textContent()).toBe('Calls get_time()');
    const args = JSON.parse((await call.locator('pre code').textContent())!) as { zone: string };
    expect(['utc', 'cet']).toContain(args.zone);
    expect(await reply.locator('.badge', { hasText: 'tool call' }).count()).toBe(1);
    await call.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, 'demo-chat-tool-call.png') });
    await page.fill('[name="tools"]', '');
    await page.selectOption('[name="toolChoice"]', 'auto');
    await page.fill('[name="temperature"]', '0');
  });

  it('fits a 375 px wide phone screen', async () => {
    await page.setViewportSize({ width: 375, height: 740 });
    await page.waitForTimeout(300);
    const chat = await overflowing(page);
    expect(chat.scrollWidth).toBeLessThanOrEqual(chat.innerWidth);
    expect(chat.out).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'demo-chat-phone.png') });

    await page.click('#settings-toggle');
    await page.locator('#side.open').waitFor();
    await page.waitForTimeout(300);
    expect((await overflowing(page)).out).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'demo-chat-phone-settings.png') });
    await page.keyboard.press('Escape');
    await page.locator('#side:not(.open)').waitFor();
  });

  it('after a reload, lists the model as cached with its size, and loads it with no model request', async () => {
    await page.reload();
    const cached = page.locator('#cached-list li', { hasText: 'stories260K.gguf' });
    await cached.waitFor();
    expect(await cached.locator('.cached-size').textContent()).toBe('1.19 MB');
    expect(await page.locator('#local-list li', { hasText: 'stories260K.gguf' }).locator('.badge-ok').textContent()).toBe('cached');
    const picker = await overflowing(page);
    expect(picker.scrollWidth).toBeLessThanOrEqual(picker.innerWidth);
    expect(picker.out).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'demo-chat-phone-picker.png'), fullPage: true });

    const before = requests.length;
    await cached.getByRole('button', { name: 'Load' }).click();
    await page.locator('#chat-view').waitFor({ state: 'visible', timeout: 60_000 });
    expect(requests.slice(before).filter((u) => u.includes('/local-models/stories260K.gguf'))).toEqual([]);
  });

  it('a truncated .gguf picked from disk gives a readable, typed error and the page stays usable', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.click('#model-chip');
    await page.setInputFiles('#file-input', { name: 'broken.gguf', mimeType: 'application/octet-stream', buffer: readFileSync(STORIES).subarray(0, 40_000) });
    const notice = page.locator('.load-card .notice');
    await notice.waitFor({ timeout: 30_000 });
    expect(['TRUNCATED_FILE', 'CORRUPT_FILE']).toContain(await notice.locator('.notice-code').textContent());
    expect(await notice.textContent()).toContain('broken.gguf');
    expect(await page.textContent('.load-card h2')).toBe('Could not load broken.gguf');
    // the model it replaced is gone, so there is no chat to go back to
    expect(await page.isVisible('#back-to-chat')).toBe(false);
    await page.screenshot({ path: join(SHOTS, 'demo-chat-load-error.png') });
    await notice.getByRole('button', { name: 'Dismiss' }).click();
    expect(await page.locator('.load-card').count()).toBe(0);
    expect(await page.textContent('#model-name')).toBe('No model');
    await page.locator('#local-list li button').waitFor();
  });

  it('sent no request anywhere but 127.0.0.1, and raised no page error', () => {
    const away = requests.filter((u) => /^(https?|wss?):/i.test(u) && new URL(u).hostname !== '127.0.0.1');
    expect(away).toEqual([]);
    expect(requests.length).toBeGreaterThan(0);
    expect(pageErrors).toEqual([]);
  });
});

describe('the chat page\'s helpers', () => {
  it('offers the GGUF files Hearth can read, smallest supported first', () => {
    const plan = planRepo([
      { path: 'README.md', size: 1 },
      { path: 'm-Q4_K_M.gguf', size: 300 },
      { path: 'm-f16.gguf', size: 900 },
      { path: 'm-Q8_0.gguf', size: 500 },
      { path: 'm-Q4_0.gguf', size: 280 },
      { path: 'm-IQ2_XXS.gguf', size: 150 },
      { path: 'm-Q3_K_L.gguf', size: 250 },
    ]);
    expect(plan.kind).toBe('gguf');
    if (plan.kind !== 'gguf') return;
    expect(plan.choices.map((c) => [c.file, c.supported])).toEqual([
      ['m-Q4_0.gguf', true],
      ['m-Q8_0.gguf', true],
      ['m-Q3_K_L.gguf', true],
      ['m-Q4_K_M.gguf', true],
      ['m-f16.gguf', true],
      ['m-IQ2_XXS.gguf', false],
    ]);
    expect(ggufQuant('Llama-3.2-1B-Instruct-Q4_K_M.gguf')).toEqual({ quant: 'Q4_K_M', supported: true });
    expect(ggufQuant('model-IQ3_XXS.gguf')).toEqual({ quant: 'IQ3_XXS', supported: false });
    expect(ggufQuant('qwen2.5-0.5b-instruct-q8_0.gguf')).toEqual({ quant: 'Q8_0', supported: true });
    const st = planRepo([
      { path: 'config.json', size: 10 },
      { path: 'tokenizer.json', size: 20 },
      { path: 'model.safetensors', size: 1000 },
      { path: 'onnx', size: 0 },
    ]);
    expect(st).toEqual({ kind: 'safetensors', bytes: 1030, files: ['model.safetensors', 'config.json', 'tokenizer.json'] });
  });

  it('turns Hub cache keys back into what loads them', () => {
    const entry = (key: string, files: string[]) => ({ key, files: files.map((file) => ({ file, size: 1, complete: true })), bytes: 1, lastUsed: 0 });
    expect(describeCacheEntry(entry('hf:HuggingFaceTB/SmolLM2-360M-Instruct-GGUF@main', ['smollm2-360m-instruct-q8_0.gguf'])).spec).toEqual({
      model: 'HuggingFaceTB/SmolLM2-360M-Instruct-GGUF/smollm2-360m-instruct-q8_0.gguf',
    });
    expect(describeCacheEntry(entry('hf:http://127.0.0.1:9/hub/a/b@dev', ['config.json', 'model.safetensors'])).spec).toEqual({ model: 'a/b@dev', endpoint: 'http://127.0.0.1:9/hub' });
  });

  it('keeps streaming Markdown blocks open inside code fences', () => {
    expect(stableSplit('one\n\ntwo')).toBe(5);
    expect(stableSplit('one\n\n```\ncode\n\nmore')).toBe(5);
    expect(stableSplit('```\na\n```\n\nnext')).toBe(11);
    expect(stableSplit('no break yet')).toBe(0);
  });
});
