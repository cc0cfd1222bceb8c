/**
 * engine.audio in a Web Worker, through the public API in headless Chromium: a small random-weight
 * Whisper (CTranslate2 layout, the real tiny.en tokenizer) loaded from a local Hub next to
 * stories260K; a WAV File transcribed with segments streamed, the same result as Node's engine on
 * the same file and weights; every response format; a WebM/Opus recording made by the page's own
 * MediaRecorder (what a microphone gives) decoded by the page and transcribed; typed errors, abort,
 * and unloading Whisper while the chat model keeps answering. Nothing is requested but 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type ViteDevServer } from 'vite';
import type { BrowserContext, Page } from 'playwright';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchPersistentChromium } from '../helpers/browser.js';
import { startHubServer, type HubServer } from '../helpers/hub-server.js';
import { STORIES } from '../helpers/stories.js';
import { realModel, WHISPER_TINY } from '../helpers/real-models.js';
import { randomWhisperWeights, writeCt2Whisper } from '../fixtures/whisper.js';
import { speak } from '../helpers/speech.js';
import { testGpu } from '../helpers/gpu.js';
import { AudioEngine, type TranscriptionVerbose } from '../../src/api/audio.js';
import { MemoryModelSource } from '../../src/hub/memory.js';
import type { WhisperConfig } from '../../src/formats/whisper.js';

// 0.16 s windows and 16 decoder positions: the whole pipeline in seconds on SwiftShader
const config: WhisperConfig = { nMels: 80, dModel: 64, ffnDim: 128, encoderLayers: 1, decoderLayers: 1, encoderHeads: 2, decoderHeads: 2, nAudioCtx: 8, nTextCtx: 16, vocabSize: 51864 };

let hub: HubServer;
let vite: ViteDevServer;
let context: BrowserContext;
let page: Page;
let profile: string;
let files: Record<string, Uint8Array>;
let wav: Uint8Array;
const requests: string[] = [];
const pageErrors: string[] = [];
const dir = mkdtempSync(join(tmpdir(), 'hearth-audio-browser-'));

type Api = Record<string, (...args: unknown[]) => Promise<unknown>>;
const call = <T>(fn: string, ...args: unknown[]): Promise<T> =>
  page.evaluate(([f, a]) => ((window as unknown as { hearthTest: Api }).hearthTest[f as string]!)(...(a as unknown[])), [fn, args] as const) as Promise<T>;

beforeAll(async () => {
  const tiny = realModel(WHISPER_TINY);
  files = {
    'model.bin': writeCt2Whisper(config, randomWhisperWeights(config, 7)),
    'tokenizer.json': readFileSync(join(tiny, 'tokenizer.json')),
    'config.json': readFileSync(join(tiny, 'config.json')),
  };
  // a short spoken sentence, cut to 0.6 s (four windows of the small model)
  const spoken = readFileSync(speak('Good morning everyone.', dir, 'morning'));
  wav = spoken.subarray(0, 44 + Math.round(0.6 * 22050) * 2);
  new DataView(wav.buffer, wav.byteOffset).setUint32(40, wav.length - 44, true);
  hub = await startHubServer({
    files: {
      'tinyllamas/stories260K/stories260K.gguf': readFileSync(STORIES),
      ...Object.fromEntries(Object.entries(files).map(([k, v]) => [`test/whisper-small/${k}`, v])),
    },
  });
  vite = await createServer({
    root: process.cwd(),
    logLevel: 'error',
    configFile: false,
    server: { host: '127.0.0.1', port: 0, hmr: false, watch: null, proxy: { '/hub': { target: hub.url, rewrite: (p) => p.replace(/^\/hub/, '') } } },
  });
  await vite.listen();
  const base = vite.resolvedUrls!.local[0]!;
  profile = mkdtempSync(join(tmpdir(), 'hearth-audio-profile-'));
  context = await launchPersistentChromium(profile);
  context.on('request', (r) => requests.push(r.url()));
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${base}test/browser/pages/audio.html`);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
  const load = await call<{ ok: boolean; error?: unknown }>('load', 'tinyllamas/stories260K', 'test/whisper-small', `${new URL(base).origin}/hub`);
  expect(load).toEqual({ ok: true });
}, 120_000);

afterAll(async () => {
  await context?.close();
  await vite?.close();
  await hub?.close();
  rmSync(dir, { recursive: true, force: true });
  if (profile) rmSync(profile, { recursive: true, force: true });
});

describe('engine.audio in a worker, through the public API', () => {
  let verbose: TranscriptionVerbose;

  it('transcribes a WAV File with segments streamed, as Node does on the same file and weights', async () => {
    const r = await call<{ ok: boolean; result: TranscriptionVerbose; streamed: TranscriptionVerbose['segments'] }>('transcribe', [...wav]);
    expect(r.ok).toBe(true);
    verbose = r.result;
    expect(verbose.duration).toBeCloseTo(0.6, 2);
    expect(verbose.segments.length).toBeGreaterThan(0);
    expect(r.streamed).toEqual(verbose.segments);
    for (let i = 1; i < verbose.segments.length; i++) expect(verbose.segments[i]!.start).toBeGreaterThanOrEqual(verbose.segments[i - 1]!.start);

    const ctx = await testGpu();
    const audio = new AudioEngine(ctx);
    await audio.load(new MemoryModelSource(files), 'small');
    const node = (await audio.transcriptions.create({ file: wav, response_format: 'verbose_json' })) as TranscriptionVerbose;
    audio.unload();
    expect(verbose.text).toBe(node.text);
    expect(verbose.segments.map((s) => s.tokens)).toEqual(node.segments.map((s) => s.tokens));
  }, 120_000);

  it('answers every response format with the same text', async () => {
    const out = await call<Record<string, unknown>>('formats', [...wav]);
    expect(out.json).toEqual({ text: verbose.text });
    expect(out.text).toBe(verbose.text);
    expect(String(out.srt)).toMatch(/^1\n00:00:00,000 --> /);
    expect(String(out.vtt).startsWith('WEBVTT')).toBe(true);
  }, 120_000);

  it('transcribes a WebM/Opus recording made by the page (decoded there with AudioContext)', async () => {
    const r = await call<{ ok: boolean; type: string; size: number; duration: number; error?: unknown }>('webm', 1.2);
    expect(r.ok).toBe(true);
    expect(r.type).toBe('audio/webm');
    expect(r.size).toBeGreaterThan(500);
    expect(r.duration).toBeGreaterThan(0.8);
    expect(r.duration).toBeLessThan(2);
  }, 120_000);

  it('typed errors, abort, unloading Whisper; the chat model keeps answering; nothing but 127.0.0.1 requested', async () => {
    const codes = await call<Record<string, string>>('errors', [...wav]);
    expect(codes).toEqual({ garbage: 'UNSUPPORTED_FORMAT', format: 'INVALID_ARGUMENT', aborted: 'ABORTED', after: 'string', unloaded: 'ENGINE_UNLOADED', chat: 'ok' });
    expect(pageErrors).toEqual([]);
    expect(requests.filter((u) => !u.startsWith('http://127.0.0.1')).filter((u) => !u.startsWith('blob:') && !u.startsWith('data:'))).toEqual([]);
  }, 120_000);
});
