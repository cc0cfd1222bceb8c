/**
 * The chat's microphone in the BUILT demo, in headless Chromium with a fake microphone that plays
 * a WAV spoken by espeak-ng (`--use-file-for-fake-audio-capture=<wav>%noloop`): a click records
 * (the page shows it, with the elapsed time), Escape stops, the real Whisper tiny.en (served by
 * the demo from $HEARTH_MODELS, as `npm run demo` does) transcribes on SwiftShader and the text
 * lands in the message box, unsent. Also: the speech model failing to load, and a browser that
 * denies the microphone, each a readable notice with the page still usable. No request leaves
 * 127.0.0.1. Screenshots go to test-results/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLoggedPage, overflowing, SHOTS, startBuiltDemo } from '../helpers/demo.js';
import { realModel, WHISPER_TINY } from '../helpers/real-models.js';
import { SENTENCES, speak, wordErrorRate } from '../helpers/speech.js';
import { STORIES } from '../helpers/stories.js';

const SENTENCE = SENTENCES[0]!; // 'The quick brown fox jumps over the lazy dog.'

let demo: { url: string; close: () => Promise<void> };
let dir: string;
let wav: string;
let wavSeconds: number;
const contexts: BrowserContext[] = [];

/** Seconds of audio in a PCM WAV (espeak-ng writes 16-bit mono with a plain 44-byte header). */
function wavDuration(path: string): number {
  const b = readFileSync(path);
  const rate = b.readUInt32LE(24);
  const bytesPerFrame = b.readUInt16LE(32);
  let off = 12;
  while (off + 8 <= b.length) {
    const id = b.toString('ascii', off, off + 4);
    const size = b.readUInt32LE(off + 4);
    if (id === 'data') return Math.min(size, b.length - off - 8) / bytesPerFrame / rate;
    off += 8 + size + (size & 1);
  }
  throw new Error(`${path}: no data chunk`);
}

/** `seconds` of digital silence as a 16-bit mono PCM WAV at `rate`. */
function silentWav(path: string, seconds: number, rate = 22050): string {
  const frames = Math.round(seconds * rate);
  const b = Buffer.alloc(44 + 2 * frames);
  b.write('RIFF', 0, 'ascii');
  b.writeUInt32LE(36 + 2 * frames, 4);
  b.write('WAVEfmt ', 8, 'ascii');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(2 * rate, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'ascii');
  b.writeUInt32LE(2 * frames, 40);
  writeFileSync(path, b);
  return path;
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'hearth-voice-'));
  wav = speak(SENTENCE, dir, 'fox');
  wavSeconds = wavDuration(wav);
  demo = await startBuiltDemo([STORIES, realModel(WHISPER_TINY)]);
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await demo?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Opened {
  page: Page;
  requests: string[];
  pageErrors: string[];
}

/** Chromium with `args` on top of the usual ones, the demo open and stories260K loaded from the local list. */
async function openWithChat(name: string, args: string[]): Promise<Opened> {
  const { context, page, requests, pageErrors } = await openLoggedPage(mkdtempSync(join(dir, `${name}-`)), name, args);
  contexts.push(context);
  await page.goto(demo.url);
  await page.waitForFunction(() => document.querySelector('#gpu-status')?.getAttribute('data-state') === 'ok');
  const local = page.locator('#local-list li', { hasText: 'stories260K.gguf' });
  await local.getByRole('button', { name: 'Load' }).click();
  await page.locator('#chat-view').waitFor({ state: 'visible', timeout: 60_000 });
  await page.locator('#mic:not([disabled])').waitFor();
  return { page, requests, pageErrors };
}

const FAKE_MIC = () => ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${wav}%noloop`];

/** Every request went to the demo's own server. */
function onlyLocal(requests: string[]): string[] {
  return requests.filter((u) => !/^(https?:\/\/127\.0\.0\.1[:/]|data:|blob:|chrome-extension:)/.test(u));
}

describe('the chat microphone of the built demo', () => {
  let o: Opened;

  it('the served Whisper folder is the microphone model, not a chat model; a speech model that fails to load is a readable notice', async () => {
    o = await openWithChat('voice', FAKE_MIC());
    const { page } = o;
    // listed for the chat: stories260K only
    await page.click('#model-chip');
    expect(await page.locator('#local-list li').allTextContents()).toEqual([expect.stringContaining('stories260K.gguf')]);
    await page.click('#back-to-chat');

    // the connection drops whenever the model's weights are asked for
    await page.route('**/local-models/whisper-tiny.en/model.bin', (r) => r.abort('connectionreset'));
    await page.fill('#prompt', 'keep me');
    const mic = page.locator('#mic');
    expect(await mic.getAttribute('aria-label')).toMatch(/record/i);
    await mic.click();
    await page.locator('body[data-voice="recording"]').waitFor();
    await page.waitForTimeout(1200);
    await mic.click();
    const notice = page.locator('.notice[data-code="SPEECH_MODEL_LOAD"]');
    await notice.waitFor({ timeout: 30_000 });
    expect(await notice.textContent()).toMatch(/speech model whisper-tiny\.en could not be loaded/i);
    expect(await notice.locator('.notice-hint').textContent()).toMatch(/try again/i);
    await page.screenshot({ path: join(SHOTS, 'demo-voice-load-error.png') });
    await page.locator('body[data-voice="idle"]').waitFor();
    expect(await page.inputValue('#prompt')).toBe('keep me');
    expect(await mic.isEnabled()).toBe(true);
    await page.unroute('**/local-models/whisper-tiny.en/model.bin');
  });

  it('records from the fake microphone, shows it, stops on Escape and puts the transcript in the message box, unsent', async () => {
    const { page } = o;
    await page.fill('#prompt', '');
    const mic = page.locator('#mic');
    await mic.focus();
    await page.keyboard.press('Enter');
    await page.locator('body[data-voice="recording"]').waitFor();
    expect(await mic.getAttribute('aria-pressed')).toBe('true');
    expect(await mic.getAttribute('aria-label')).toMatch(/stop recording/i);
    // the error of the failed load went away with the new attempt
    expect(await page.locator('.notice[data-code="SPEECH_MODEL_LOAD"]').count()).toBe(0);
    await page.waitForFunction(() => document.querySelector('.voice-elapsed')?.textContent === '0:01', undefined, { timeout: 5000 });
    // every status line the page shows from here on, to check the speech model's load was shown
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { voiceStatus: string[] }).voiceStatus = seen;
      const el = document.querySelector('#voice-status')!;
      new MutationObserver(() => seen.push(el.textContent ?? '')).observe(el, { childList: true, subtree: true, characterData: true });
    });
    const status = await page.textContent('#voice-status');
    expect(status).toMatch(/Recording 0:01/);
    await page.screenshot({ path: join(SHOTS, 'demo-voice-recording.png') });

    // the whole sentence, and a little silence after it
    const elapsed = () => page.evaluate(() => document.querySelector('.voice-elapsed')?.textContent ?? '');
    await page.waitForFunction((s) => {
      const [m, sec] = (document.querySelector('.voice-elapsed')?.textContent ?? '0:00').split(':').map(Number);
      return m! * 60 + sec! >= s;
    }, Math.ceil(wavSeconds + 0.5), { timeout: 20_000 });
    expect(await elapsed()).not.toBe('0:01');
    await page.keyboard.press('Escape');
    // a 30 s Whisper window on SwiftShader: about a minute alone, more beside other test files
    await page.locator('body[data-voice="idle"]').waitFor({ timeout: 360_000 });
    const text = await page.inputValue('#prompt');
    const wer = wordErrorRate(SENTENCE, text);
    console.log(`[voice] ${wavSeconds.toFixed(1)} s → ${JSON.stringify(text)} (WER ${(100 * wer).toFixed(0)}%); ${await page.textContent('#voice-status')}`);
    expect(wer, text).toBeLessThanOrEqual(0.2);
    expect(await page.textContent('#voice-status')).toMatch(/Transcribed \d+\.\d s on this device/);
    const seen = await page.evaluate(() => (window as unknown as { voiceStatus: string[] }).voiceStatus);
    expect(seen.some((t) => /^Loading the speech model \(whisper-tiny\.en\) served by this demo: [\d.]+ [kM]?B of 7\d\.\d MB/.test(t)), JSON.stringify(seen.slice(0, 12))).toBe(true);
    expect(seen.some((t) => /^Transcribing/.test(t))).toBe(true);
    // the cursor is after the inserted text, in the box, ready to edit
    expect(await page.evaluate(() => [document.activeElement?.id, (document.activeElement as HTMLTextAreaElement).selectionStart])).toEqual(['prompt', text.length]);
    // nothing was sent
    expect(await page.locator('.msg-user').count()).toBe(0);
    expect(await page.locator('.notice').count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'demo-voice-transcribed.png') });

    // Escape while a transcription runs stops it and leaves the box as it was
    await mic.click();
    await page.locator('body[data-voice="recording"]').waitFor();
    await page.waitForTimeout(1500);
    await mic.click();
    await page.locator('body[data-voice="transcribing"]').waitFor();
    await page.keyboard.press('Escape');
    await page.locator('body[data-voice="idle"]').waitFor();
    expect(await page.textContent('#voice-status')).toBe('Transcription stopped.');
    await page.waitForTimeout(500);
    expect(await page.inputValue('#prompt')).toBe(text);
    expect(await page.locator('.notice').count()).toBe(0);

    // the speech model is in the browser's weight cache now, listed as the microphone's, not offered as a chat model
    await page.click('#model-chip');
    const cachedWhisper = page.locator('#cached-list li', { hasText: 'whisper-tiny.en' });
    await cachedWhisper.waitFor();
    expect(await cachedWhisper.locator('.badge', { hasText: 'speech model' }).count()).toBe(1);
    expect(await cachedWhisper.getByRole('button', { name: 'Load' }).count()).toBe(0);
    await page.click('#back-to-chat');
    expect(await page.inputValue('#prompt')).toBe(text);

    // the phone layout holds with the microphone in the composer
    await page.setViewportSize({ width: 375, height: 740 });
    await page.waitForTimeout(400);
    const phone = await overflowing(page);
    expect(phone.scrollWidth).toBeLessThanOrEqual(phone.innerWidth);
    expect(phone.out).toEqual([]);
    const box = await mic.boundingBox();
    expect(box && box.x + box.width).toBeLessThanOrEqual(375);
    await page.screenshot({ path: join(SHOTS, 'demo-voice-phone.png') });

    expect(onlyLocal(o.requests)).toEqual([]);
    expect(o.requests.some((u) => u.includes('/local-models/whisper-tiny.en/model.bin'))).toBe(true);
    expect(o.pageErrors).toEqual([]);
  }, 480_000);

  it('a silent recording is a readable notice, and nothing is transcribed', async () => {
    const silence = silentWav(join(dir, 'silence.wav'), 3);
    const { page, requests, pageErrors } = await openWithChat('voice-silent', ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${silence}%noloop`]);
    await page.click('#mic');
    await page.locator('body[data-voice="recording"]').waitFor();
    await page.waitForTimeout(1500);
    await page.click('#mic');
    const notice = page.locator('.notice[data-code="SILENT_RECORDING"]');
    await notice.waitFor({ timeout: 15_000 });
    expect(await notice.textContent()).toMatch(/was silent/);
    await page.screenshot({ path: join(SHOTS, 'demo-voice-silent.png') });
    await page.locator('body[data-voice="idle"]').waitFor();
    expect(await page.inputValue('#prompt')).toBe('');
    // the speech model was not even loaded for it
    expect(requests.filter((u) => u.includes('whisper-tiny.en'))).toEqual([]);
    expect(onlyLocal(requests)).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('a browser that denies the microphone gets a readable notice, and the page stays usable', async () => {
    const { page, requests, pageErrors } = await openWithChat('voice-denied', ['--use-fake-device-for-media-stream', '--deny-permission-prompts']);
    await page.fill('#prompt', 'still here');
    await page.click('#mic');
    const notice = page.locator('.notice[data-code="MIC_PERMISSION_DENIED"]');
    await notice.waitFor({ timeout: 15_000 });
    expect(await notice.textContent()).toMatch(/did not allow this page to use the microphone/);
    expect(await notice.locator('.notice-hint').textContent()).toMatch(/Allow the microphone/);
    await page.locator('body[data-voice="idle"]').waitFor();
    expect(await page.isEnabled('#mic')).toBe(true);
    expect(await page.inputValue('#prompt')).toBe('still here');
    await page.screenshot({ path: join(SHOTS, 'demo-voice-denied.png') });
    // the chat still works
    await page.fill('[name="maxTokens"]', '8');
    await page.focus('#prompt');
    await page.keyboard.press('Enter');
    await page.locator('.msg-assistant[data-status="done"]').waitFor({ timeout: 60_000 });
    expect(onlyLocal(requests)).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
