/**
 * `hearth serve --audio-model`: POST /v1/audio/transcriptions driven by the official openai client
 * (multipart uploads from fs streams) and by plain HTTP for bad requests. A small random-weight
 * Whisper (the real tiny.en tokenizer, 0.16 s windows; test/fixtures/whisper.ts) next to
 * stories260K: every response format (and an MP3 upload) equals engine.audio.transcriptions.create on the same bytes,
 * content types, OpenAI-shaped errors with the right status, API keys, the shared fair queue, a
 * client that goes away mid-transcription, a lost device (both models load again), and no GPU
 * buffers left behind. The real tiny.en behind the server: serve-audio-real.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { WhisperConfig } from '../../src/formats/whisper.js';
import type { TranscriptionCreateParams } from '../../src/api/audio.js';
import { chirp, randomWhisperWeights, writeCt2Whisper } from '../fixtures/whisper.js';
import { countBuffers } from '../helpers/gpu-buffers.js';
import { realModel, WHISPER_TINY } from '../helpers/real-models.js';
import { apiError, post, startServer, type TestServer } from '../helpers/serve.js';
import { KNOWN_TEXT } from '../helpers/stories.js';

const config: WhisperConfig = { nMels: 80, dModel: 64, ffnDim: 128, encoderLayers: 1, decoderLayers: 1, encoderHeads: 2, decoderHeads: 2, nAudioCtx: 8, nTextCtx: 16, vocabSize: 51864 };
const FORMATS = ['json', 'text', 'verbose_json', 'srt', 'vtt'] as const;

/** A multipart form as a browser or curl -F sends it. */
function form(fields: Record<string, string | string[]>, file?: { bytes: Uint8Array; name: string; field?: string }): FormData {
  const f = new FormData();
  if (file) f.append(file.field ?? 'file', new Blob([file.bytes as Uint8Array<ArrayBuffer>]), file.name);
  for (const [k, v] of Object.entries(fields)) for (const x of Array.isArray(v) ? v : [v]) f.append(k, x);
  return f;
}

const until = async (cond: () => boolean) => {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
};

describe('hearth serve --audio-model (a small random Whisper)', () => {
  const key = 'sk-audio-0123456789';
  const auth = { authorization: `Bearer ${key}` };
  let t: TestServer;
  let dir: string;
  let wav: string;
  let buffers: ReturnType<typeof countBuffers>;
  const maxAudioBytes = 200 * 1024;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-serve-audio-'));
    const model = join(dir, 'whisper-random');
    mkdirSync(model);
    const tiny = realModel(WHISPER_TINY);
    writeFileSync(join(model, 'model.bin'), writeCt2Whisper(config, randomWhisperWeights(config, 4)));
    for (const f of ['tokenizer.json', 'config.json']) writeFileSync(join(model, f), readFileSync(join(tiny, f)));
    wav = join(dir, 'chirp.wav');
    writeFileSync(wav, chirp(0.1)); // one 0.16 s window
    t = await startServer({ audioModel: model, apiKeys: [key], maxAudioBytes, maxConcurrent: 1 });
    buffers = countBuffers(t.server.model.current().engine.ctx.device);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    buffers?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the Whisper model; every response format equals engine.audio.transcriptions.create on the same file', async () => {
    expect((await t.client.models.list()).data.map((m) => m.id)).toEqual(['stories260K', 'whisper-random']);
    expect((await t.client.models.retrieve('whisper-random')).id).toBe('whisper-random');
    const engine = t.server.model.current();
    const bytes = readFileSync(wav);
    const local = async (p: Omit<TranscriptionCreateParams, 'file'>) => engine.audio.transcriptions.create({ file: bytes, ...p });
    const want = new Map<string, unknown>();

    for (const response_format of FORMATS) {
      // timestamp_granularities goes with verbose_json only (as OpenAI requires)
      const granularity = response_format === 'verbose_json' ? { timestamp_granularities: ['segment' as const] } : {};
      const served = await t.client.audio.transcriptions.create({ file: createReadStream(wav), model: 'whisper-random', response_format, ...granularity });
      want.set(response_format, await local({ response_format, ...granularity }));
      expect(served, response_format).toEqual(want.get(response_format));
    }
    const verbose = want.get('verbose_json') as { text: string; duration: number; segments: unknown[] };
    expect(verbose).toMatchObject({ task: 'transcribe', language: 'en' });
    expect(verbose.duration).toBeCloseTo(0.1, 5);
    expect(verbose.text.length).toBeGreaterThan(0);
    expect(verbose.segments.length).toBeGreaterThan(0);
    expect(want.get('json')).toEqual({ text: verbose.text });

    // language, prompt and a sampling temperature reach the engine (the same seeded run as in-process)
    const extra = { language: 'en', prompt: 'A rising tone.', temperature: 0.7 };
    const sampled = await t.client.audio.transcriptions.create({ file: createReadStream(wav), model: 'whisper-1', response_format: 'verbose_json', ...extra });
    expect(sampled).toEqual(await local({ response_format: 'verbose_json', ...extra }));

    // a compressed upload (MP3 from Debian's lame, which scripts/setup.sh installs): the engine decodes it as in-process
    const mp3 = join(dir, 'chirp.mp3');
    execFileSync('lame', ['--quiet', wav, mp3]);
    const fromMp3 = await t.client.audio.transcriptions.create({ file: createReadStream(mp3), model: 'whisper-random', response_format: 'verbose_json' });
    expect(fromMp3).toEqual(await engine.audio.transcriptions.create({ file: readFileSync(mp3), response_format: 'verbose_json' }));
    expect(fromMp3.duration).toBeGreaterThan(0.05);

    // content types as OpenAI's: the text formats as text (WebVTT as text/vtt)
    // (the SDK parsed json and verbose_json as JSON above)
    for (const [response_format, type] of [['text', 'text/plain'], ['srt', 'text/plain'], ['vtt', 'text/vtt']]) {
      const r = await fetch(`${t.url}/v1/audio/transcriptions`, { method: 'POST', headers: auth, body: form({ model: 'whisper-random', response_format: response_format! }, { bytes, name: 'chirp.wav' }) });
      expect([r.status, r.headers.get('content-type')?.split(';')[0]], response_format).toEqual([200, type]);
      const body = await r.text();
      const w = want.get(response_format!);
      expect(typeof w === 'string' ? body : JSON.parse(body), response_format).toEqual(w);
    }
    expect((await fetch(`${t.url}/health`).then((r) => r.json())).audio_model).toBe('whisper-random');
  }, 60_000);

  it('bad requests: OpenAI-shaped errors with the right status and a hint; the server stays up', async () => {
    const url = `${t.url}/v1/audio/transcriptions`;
    const bytes = readFileSync(wav);
    const send = async (body: FormData | string, headers: Record<string, string> = {}) => {
      const r = await fetch(url, { method: 'POST', headers: { ...auth, ...headers }, body });
      const text = await r.text();
      return { status: r.status, json: JSON.parse(text) as { error: { message: string; type: string; param: string | null; code: string | null } } };
    };
    const noise = Uint8Array.from({ length: 4000 }, (_, i) => (i * 7919) % 251);
    const cases: [string, Awaited<ReturnType<typeof send>>, number, string | null, RegExp][] = [
      ['no file', await send(form({ model: 'whisper-random' })), 400, 'file', /has no `file`.*multipart field `file`/],
      ['empty file', await send(form({}, { bytes: new Uint8Array(0), name: 'a.wav' })), 400, 'file', /audio file is empty/],
      ['unknown response_format', await send(form({ response_format: 'xml' }, { bytes, name: 'a.wav' })), 400, 'response_format', /'xml' is not one of json, text, verbose_json, srt, vtt.*Use 'json'/],
      ['word timestamps', await send(form({ response_format: 'verbose_json', 'timestamp_granularities[]': ['segment', 'word'] }, { bytes, name: 'a.wav' })), 400, 'timestamp_granularities', /'word' is not supported/],
      ['temperature not a number', await send(form({ temperature: 'warm' }, { bytes, name: 'a.wav' })), 400, 'temperature', /temperature must be a number/],
      ['temperature out of range', await send(form({ temperature: '1.5' }, { bytes, name: 'a.wav' })), 400, 'temperature', /from 0 to 1/],
      ['another language on an .en model', await send(form({ language: 'de' }, { bytes, name: 'a.wav' })), 400, null, /English-only/],
      ['unknown field', await send(form({ best_of: '2' }, { bytes, name: 'a.wav' })), 400, 'best_of', /Unrecognized request argument supplied: best_of/],
      ['stream', await send(form({ stream: 'true' }, { bytes, name: 'a.wav' })), 400, 'stream', /not supported/],
      ['file in another field', await send(form({}, { bytes, name: 'a.wav', field: 'audio' })), 400, 'audio', /Unexpected file in the form field `audio`/],
      ['audio that does not decode', await send(form({}, { bytes: noise, name: 'a.mp3' })), 400, 'file', /could not be decoded/],
      ['a WAV with no data', await send(form({}, { bytes: bytes.subarray(0, 36), name: 'a.wav' })), 400, 'file', /no fmt and data chunks/],
      ['file too large', await send(form({}, { bytes: chirp(7), name: 'long.wav' })), 413, 'file', /larger than this server accepts \(0\.2 MiB\).*--max-audio-size/],
      ['JSON body', await send(JSON.stringify({ file: 'x' }), { 'content-type': 'application/json' }), 400, null, /Unsupported Content-Type: application\/json.*multipart\/form-data/],
      ['form-encoded', await send('file=x', { 'content-type': 'application/x-www-form-urlencoded' }), 400, null, /Unsupported Content-Type.*multipart\/form-data/],
      ['malformed multipart', await send('--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF', { 'content-type': 'multipart/form-data; boundary=xyz' }), 400, null, /could not parse the multipart\/form-data body/],
      ['unknown model', await send(form({ model: 'gpt-4o-transcribe' }, { bytes, name: 'a.wav' })), 404, 'model', /`gpt-4o-transcribe` does not exist.*whisper-random/],
      ['the chat model', await send(form({ model: 'stories260K' }, { bytes, name: 'a.wav' })), 400, 'model', /is a text model/],
      ['no API key', await send(form({}, { bytes, name: 'a.wav' }), { authorization: '' }), 401, null, /didn't provide an API key/],
    ];
    for (const [what, r, status, param, message] of cases) {
      expect(r.status, what).toBe(status);
      expect(Object.keys(r.json.error ?? {}), what).toEqual(['message', 'type', 'param', 'code']);
      expect(r.json.error.type, what).toBe('invalid_request_error');
      expect(r.json.error.param, what).toBe(param);
      expect(r.json.error.message, what).toMatch(message);
    }
    expect(cases.find(([w]) => w === 'unknown model')![1].json.error.code).toBe('model_not_found');
    expect(cases.find(([w]) => w === 'audio that does not decode')![1].json.error.code).toBe('invalid_value');
    // the chat endpoints refuse the Whisper model by name, and multipart bodies
    const chat = await post(`${t.url}/v1/chat/completions`, JSON.stringify({ model: 'whisper-random', messages: [{ role: 'user', content: 'hi' }] }), { 'content-type': 'application/json', ...auth });
    expect([chat.status, chat.json.error?.param]).toEqual([400, 'model']);
    expect(chat.json.error?.message).toMatch(/speech-to-text model/);
    const multi = await fetch(`${t.url}/v1/chat/completions`, { method: 'POST', headers: auth, body: form({ model: 'stories260K' }) });
    expect(multi.status).toBe(400);
    // through the SDK as well
    const e = await apiError(t.client.audio.transcriptions.create({ file: createReadStream(wav), model: 'whisper-random', response_format: 'xml' as 'json' }));
    expect([e.status, e.param]).toEqual([400, 'response_format']);
    expect(t.server.scheduler.stats).toEqual({ active: 0, queued: 0, waitingKeys: 0 });
    const ok = await t.client.audio.transcriptions.create({ file: createReadStream(wav), model: 'whisper-random' });
    expect(ok.text.length).toBeGreaterThan(0);
  }, 60_000);

  it('transcriptions wait in the same queue as chat; a client that goes away aborts its transcription; no GPU buffers are left', async () => {
    const live = buffers.live();
    const long = chirp(1.2); // 8 windows of 0.16 s
    const body = () => form({ model: 'whisper-random', response_format: 'verbose_json' }, { bytes: long, name: 'long.wav' });

    // a transcription holds the one slot: a chat request waits for it, then runs
    const t0 = performance.now();
    const first = fetch(`${t.url}/v1/audio/transcriptions`, { method: 'POST', headers: auth, body: body() }).then((r) => r.json());
    await until(() => t.server.scheduler.stats.active === 1);
    const chat = t.client.completions.create({ model: 'stories260K', prompt: [1], max_tokens: 12, temperature: 0 });
    await until(() => t.server.scheduler.stats.queued === 1);
    const done = (await first) as { duration: number; segments: unknown[] };
    const fullMs = performance.now() - t0;
    expect(done.duration).toBeCloseTo(1.2, 3);
    expect((await chat).choices[0]!.text).toBe(KNOWN_TEXT.slice(0, (await chat).choices[0]!.text.length));

    // the same transcription, abandoned by its client: the server aborts it and frees the slot
    const gone = t.server.requests.clientGone;
    const ctrl = new AbortController();
    const t1 = performance.now();
    const abandoned = fetch(`${t.url}/v1/audio/transcriptions`, { method: 'POST', headers: auth, body: body(), signal: ctrl.signal }).catch((x: unknown) => x);
    await until(() => t.server.scheduler.stats.active === 1);
    await new Promise((r) => setTimeout(r, 50));
    ctrl.abort();
    expect(await abandoned).toBeInstanceOf(Error);
    await until(() => t.server.requests.clientGone === gone + 1);
    await t.server.scheduler.whenIdle();
    expect(performance.now() - t1).toBeLessThan(fullMs);
    expect(t.server.scheduler.stats).toEqual({ active: 0, queued: 0, waitingKeys: 0 });
    // the Whisper model answers the next request in full
    expect((await t.client.audio.transcriptions.create({ file: createReadStream(wav), model: 'whisper-random', response_format: 'verbose_json' })).duration).toBeCloseTo(0.1, 5);
    // requests that ran, failed and were aborted left no GPU buffer behind
    expect(buffers.live()).toBe(live);
  }, 60_000);

  it('a device lost mid-transcription: 503 device_lost, 503 meanwhile, then the chat and the Whisper model both load again and transcribe as before', async () => {
    const before = await t.client.audio.transcriptions.create({ file: createReadStream(wav), model: 'whisper-random', response_format: 'text' });
    const running = fetch(`${t.url}/v1/audio/transcriptions`, { method: 'POST', headers: auth, body: form({}, { bytes: chirp(1.2), name: 'long.wav' }) });
    await until(() => t.server.scheduler.stats.active === 1);
    await new Promise((r) => setTimeout(r, 50));
    t.server.model.loseDeviceForTesting();
    const lost = await running;
    expect([lost.status, ((await lost.json()) as { error: { code: string } }).error.code]).toEqual([503, 'device_lost']);
    const during = await fetch(`${t.url}/v1/audio/transcriptions`, { method: 'POST', headers: auth, body: form({}, { bytes: chirp(0.1), name: 'a.wav' }) });
    expect([during.status, during.headers.get('retry-after')]).toEqual([503, '5']);
    expect(((await during.json()) as { error: { type: string } }).error.type).toBe('server_error');
    const engine = await t.server.model.whenReady();
    expect(engine.audio.info?.name).toBe(join(dir, 'whisper-random'));
    expect(await t.client.audio.transcriptions.create({ file: createReadStream(wav), model: 'whisper-random', response_format: 'text' })).toBe(before);
  }, 60_000);
});

describe('hearth serve with no --audio-model', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({});
  }, 60_000);
  afterAll(async () => t?.close());

  it('answers transcriptions with 404 and a hint, and lists only the chat model', async () => {
    const r = await fetch(`${t.url}/v1/audio/transcriptions`, { method: 'POST', body: form({ model: 'whisper-1' }, { bytes: chirp(0.1), name: 'a.wav' }) });
    const json = (await r.json()) as { error: { message: string; code: string } };
    expect([r.status, json.error.code]).toEqual([404, 'model_not_found']);
    expect(json.error.message).toMatch(/no speech-to-text model.*--audio-model/);
    expect((await t.client.models.list()).data.map((m) => m.id)).toEqual(['stories260K']);
  }, 30_000);
});
