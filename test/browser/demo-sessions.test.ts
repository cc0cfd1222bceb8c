/**
 * Saved chats on the demo's chat page (the BUILT demo, headless Chromium on SwiftShader, a
 * profile on disk so OPFS survives reloads), with stories260K from the demo's local list:
 * two turns, a page reload, the model loaded again from the cache, the conversation found in the
 * sidebar and opened, a third turn that prefills only its own tokens (the rest restored from
 * storage); rename, export and import, delete with confirmation; a chat of another model (the same
 * file at q8_0) listed apart and read-only; the same weights with an 8-bit KV cache resuming a
 * chat; the chat list as a drawer at 375 px. Screenshots go to
 * test-results/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { openDemo, overflowing, SHOTS, type DemoBrowser } from '../helpers/demo.js';
import { STORIES } from '../helpers/stories.js';

let demo: DemoBrowser;
let page: Page;
let requests: string[];
let pageErrors: string[];

beforeAll(async () => {
  demo = await openDemo([STORIES], 'demo-sessions');
  ({ page, requests, pageErrors } = demo);
}, 120_000);

afterAll(async () => {
  await demo?.close();
});

interface Stats {
  promptTokens: number;
  prefilled: number;
  reused: number;
  restored: number;
  storedTokens: number;
}

/** Sends a message with the keyboard and waits for the reply to finish; returns its stats' numbers. */
async function send(p: Page, text: string): Promise<Stats> {
  const before = await p.locator('.msg-assistant[data-status="done"]').count();
  await p.focus('#prompt');
  await p.keyboard.type(text);
  await p.keyboard.press('Enter');
  await p.waitForFunction((n) => document.querySelectorAll('.msg-assistant[data-status="done"]').length > n || !!document.querySelector('.msg-assistant[data-status="error"]'), before, { timeout: 60_000 });
  expect(await p.locator('.msg-assistant[data-status="error"]').count()).toBe(0);
  const d = await p.locator('.msg-assistant').last().locator('.msg-stats').evaluate((el) => ({ ...(el as HTMLElement).dataset }));
  return { promptTokens: Number(d.promptTokens), prefilled: Number(d.prefilled), reused: Number(d.reused), restored: Number(d.restored), storedTokens: Number(d.storedTokens) };
}

async function loadStories(p: Page): Promise<void> {
  const local = p.locator('#local-list li', { hasText: 'stories260K.gguf' });
  await local.waitFor();
  await p.waitForFunction(() => document.querySelector('#gpu-status')?.getAttribute('data-state') === 'ok');
  await local.getByRole('button', { name: 'Load' }).click();
  await p.locator('#chat-view').waitFor({ state: 'visible', timeout: 60_000 });
}

const rows = (p: Page) => p.locator('#chat-list .chat-row');
const row = (p: Page, title: string) => p.locator('#chat-list .chat-row', { has: p.locator('.chat-title', { hasText: title }) });

describe('saved chats on the demo chat page', () => {
  let storedAfterTwo = 0;

  it('keeps a two-turn chat in the sidebar; the second turn prefills only its own tokens', async () => {
    await page.goto(demo.url);
    await loadStories(page);
    expect(await page.isVisible('#history')).toBe(true);
    expect(await rows(page).count()).toBe(0);
    expect(await page.isVisible('#chats-empty')).toBe(true);

    // greedy and short, so every run is the same and quick on SwiftShader
    await page.fill('[name="temperature"]', '0');
    await page.fill('[name="maxTokens"]', '16');
    const one = await send(page, 'Once upon a time');
    expect(one.reused).toBe(0);
    expect(one.prefilled).toBe(one.promptTokens);
    await row(page, 'Once upon a time').waitFor();
    const two = await send(page, 'The cat sat on the mat.');
    expect(two.reused).toBe(one.storedTokens);
    expect(two.prefilled).toBe(two.promptTokens - one.storedTokens);
    const stats = page.locator('.msg-assistant').last().locator('.msg-stats');
    expect(await stats.locator('[data-stat="reused"] .stat-value').textContent()).toBe(String(two.reused));
    expect(await stats.locator('[data-stat="prefilled"] .stat-value').textContent()).toBe(String(two.prefilled));
    storedAfterTwo = two.storedTokens;

    await page.waitForFunction(() => document.querySelector('#chat-list .chat-row .chat-meta')?.textContent?.includes('4 messages'));
    expect(await rows(page).count()).toBe(1);
    expect(await row(page, 'Once upon a time').locator('.chat-open').getAttribute('aria-current')).toBe('true');

    // a second chat, to delete later
    await page.click('#history-new');
    expect(await page.locator('.msg').count()).toBe(0);
    await send(page, 'Lily was happy.');
    await row(page, 'Lily was happy.').waitFor();
    expect(await rows(page).count()).toBe(2);
    // newest first
    expect(await rows(page).first().locator('.chat-title').textContent()).toBe('Lily was happy.');
    await page.screenshot({ path: join(SHOTS, 'demo-sessions-desktop.png') });
  });

  it('after a reload and the model loaded again, opens the chat and continues it with only the new tokens prefilled', async () => {
    await page.reload();
    await loadStories(page);
    await row(page, 'Once upon a time').waitFor();
    expect(await rows(page).count()).toBe(2);
    expect(await row(page, 'Once upon a time').locator('.chat-meta').textContent()).toMatch(/4 messages · [\d.]+ kB/);

    await row(page, 'Once upon a time').locator('.chat-open').click();
    await page.locator('.msg-user').nth(1).waitFor();
    expect(await page.locator('.msg-user').allTextContents()).toEqual(['Once upon a time', 'The cat sat on the mat.']);
    expect(await page.locator('.msg-assistant').count()).toBe(2);
    const note = page.locator('.chat-note[data-note="resumed"]');
    await note.waitFor();
    expect(await note.textContent()).toContain(`${storedAfterTwo} tokens of context restored`);
    await page.screenshot({ path: join(SHOTS, 'demo-sessions-resumed.png') });

    await page.fill('[name="temperature"]', '0');
    await page.fill('[name="maxTokens"]', '16');
    const three = await send(page, 'They went home.');
    expect(three.restored).toBe(storedAfterTwo);
    expect(three.reused).toBe(storedAfterTwo);
    expect(three.reused).toBeGreaterThan(0);
    expect(three.prefilled).toBe(three.promptTokens - storedAfterTwo);
    const stats = page.locator('.msg-assistant').last().locator('.msg-stats');
    expect(await stats.locator('[data-stat="restored"]').textContent()).toBe(`restored from storage: ${storedAfterTwo} tokens`);
    await page.waitForFunction(() => document.querySelector('#chat-list .chat-row .chat-meta')?.textContent?.includes('6 messages'));
    expect(await rows(page).first().locator('.chat-title').textContent()).toBe('Once upon a time');
    await page.screenshot({ path: join(SHOTS, 'demo-sessions-third-turn.png') });
  });

  it('renames, exports and imports a chat, and deletes one after asking', async () => {
    const r = row(page, 'Once upon a time');
    await r.locator('.chat-more').click();
    await r.getByRole('button', { name: 'Rename' }).click();
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('The cat story');
    await page.keyboard.press('Enter');
    await row(page, 'The cat story').waitFor();
    expect(await page.locator('#chat-list .chat-title', { hasText: 'Once upon a time' }).count()).toBe(0);

    const renamed = row(page, 'The cat story');
    await renamed.locator('.chat-more').click();
    const [download] = await Promise.all([page.waitForEvent('download'), renamed.getByRole('button', { name: 'Export' }).click()]);
    expect(download.suggestedFilename()).toBe('the-cat-story.hearth-session');
    const file = join(SHOTS, 'demo-sessions-export.hearth-session');
    await download.saveAs(file);
    await renamed.locator('.chat-more').click();

    await page.setInputFiles('#chat-import', file);
    await page.waitForFunction(() => document.querySelectorAll('#chat-list .chat-row').length === 3);
    // the import opens with its messages (its KV is what the engine holds already: nothing to restore)
    await page.waitForFunction(() => document.querySelectorAll('.msg-user').length === 3);
    expect(await page.locator('#chat-list [aria-current="true"]').count()).toBe(1);

    const lily = row(page, 'Lily was happy.');
    await lily.locator('.chat-more').click();
    await lily.getByRole('button', { name: 'Delete' }).click();
    expect(await lily.locator('.chat-confirm').textContent()).toContain('Delete “Lily was happy.”?');
    await page.screenshot({ path: join(SHOTS, 'demo-sessions-delete-confirm.png') });
    // Cancel keeps it
    await lily.getByRole('button', { name: 'Cancel' }).click();
    expect(await rows(page).count()).toBe(3);
    await lily.getByRole('button', { name: 'Delete' }).click();
    await lily.locator('.chat-delete').click();
    await page.waitForFunction(() => document.querySelectorAll('#chat-list .chat-row').length === 2);
    expect(await row(page, 'Lily was happy.').count()).toBe(0);
  });

  it('at 375 px the chat list is a drawer, nothing overflows, and choosing a chat closes it', async () => {
    await page.setViewportSize({ width: 375, height: 740 });
    await page.waitForTimeout(300);
    expect(await page.isVisible('#history')).toBe(false);
    const chat = await overflowing(page);
    expect(chat.scrollWidth).toBeLessThanOrEqual(chat.innerWidth);
    expect(chat.out).toEqual([]);

    await page.click('#chats-toggle');
    await page.locator('#history.open').waitFor();
    await page.waitForTimeout(300);
    expect(await page.isVisible('#history')).toBe(true);
    const drawer = await overflowing(page);
    expect(drawer.scrollWidth).toBeLessThanOrEqual(drawer.innerWidth);
    expect(drawer.out).toEqual([]);
    const r = row(page, 'The cat story').first();
    await r.locator('.chat-more').click();
    expect((await overflowing(page)).out).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'demo-sessions-phone-drawer.png') });
    await r.locator('.chat-more').click();

    await r.locator('.chat-open').click();
    await page.locator('#history:not(.open)').waitFor();
    await page.locator('.msg-user').nth(2).waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('prompt');
    const four = await send(page, 'The sun was warm.');
    expect(four.prefilled).toBe(four.promptTokens - four.reused);
    expect((await overflowing(page)).out).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'demo-sessions-phone-chat.png') });
    // Escape closes the drawer too
    await page.click('#chats-toggle');
    await page.locator('#history.open').waitFor();
    await page.keyboard.press('Escape');
    await page.locator('#history:not(.open)').waitFor();
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('lists a chat of another model (the same file at q8_0) apart; it opens read-only', async () => {
    await page.click('#change-model');
    await page.locator('#load-options summary').click();
    await page.selectOption('[name="dtype"]', 'q8_0');
    await loadStories(page);
    await page.locator('#chat-list .chat-group').waitFor();
    expect(await page.textContent('#chat-list .chat-group')).toBe('Other models');
    expect(await page.locator('#chat-list .chat-row[data-other]').count()).toBe(2);
    expect(await page.locator('#chat-list .chat-row[data-other] .chat-other').first().textContent()).toBe('other model');
    await page.locator('#chat-list .chat-row[data-other] .chat-open').first().click();
    await page.locator('.chat-banner').waitFor();
    expect(await page.isDisabled('#prompt')).toBe(true);
    expect(await page.getAttribute('#prompt', 'placeholder')).toContain('another model');
    expect(await page.textContent('.chat-banner')).toContain('stories260K.gguf (weights as stored in the file)');
    await page.screenshot({ path: join(SHOTS, 'demo-sessions-other-model.png') });

    // copied into a chat of this model: editable, and its first turn computes the whole history
    await page.locator('.chat-banner').getByRole('button', { name: 'Continue with stories260K' }).click();
    await page.waitForFunction(() => !(document.querySelector('#prompt') as HTMLTextAreaElement).disabled);
    expect(await page.locator('#chat-list .chat-row:not([data-other])').count()).toBe(1);
    const copied = await send(page, 'The end.');
    expect(copied.prefilled).toBeGreaterThan(copied.reused);
    expect(copied.prefilled + copied.reused).toBe(copied.promptTokens);
  });

  it('with an 8-bit KV cache (Load options), a chat of the same weights opens as this model\'s and continues from its restored context', async () => {
    await page.click('#change-model');
    const options = page.locator('#load-options');
    if (!(await options.evaluate((d) => (d as HTMLDetailsElement).open))) await options.locator('summary').click();
    await page.selectOption('[name="dtype"]', '');
    await page.selectOption('[name="kvCache"]', 'q8');
    await loadStories(page);
    // stories260K: K and V x 5 layers x 4 KV heads x 2048 positions x head 8, a byte each and a
    // 4-byte scale per 8: 983,040 bytes
    expect(await page.locator('#model-facts').textContent()).toContain('Context2048 tokensKV cacheq8, 983 kB');
    const cat = page.locator('#chat-list .chat-row:not([data-other])', { has: page.locator('.chat-title', { hasText: 'The cat story' }) }).first();
    await cat.locator('.chat-open').click();
    await page.locator('.chat-note[data-note="resumed"]').waitFor();
    expect(await page.isDisabled('#prompt')).toBe(false);
    await page.fill('[name="temperature"]', '0');
    await page.fill('[name="maxTokens"]', '16');
    const next = await send(page, 'The dog barked.');
    expect(next.restored).toBeGreaterThan(0);
    expect(next.reused).toBe(next.restored);
    expect(next.prefilled).toBe(next.promptTokens - next.reused);
    await page.screenshot({ path: join(SHOTS, 'demo-sessions-kv-q8.png') });
  });

  it('sent no request anywhere but 127.0.0.1, and raised no page error', () => {
    const away = requests.filter((u) => /^(https?|wss?):/i.test(u) && new URL(u).hostname !== '127.0.0.1');
    expect(away).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
