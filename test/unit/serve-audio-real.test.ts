/**
 * `hearth serve --audio-model` with the real Whisper tiny.en (faster-whisper's CTranslate2 files in
 * $HEARTH_MODELS, as whisper-real.test.ts finds them): one sentence spoken by espeak-ng, uploaded
 * by the official openai client, transcribed within 15% word error rate while a chat request runs
 * beside it (two slots: their GPU work interleaves on one device), and no GPU buffer left by the
 * request. One 30 s encoder pass and a decoder step per token: 210 s on SwiftShader with the two
 * cores loaded by other work (load average 10 to 14), hence a file of its own and the long
 * timeout. The response formats, errors, queueing and aborts: serve-audio.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countBuffers } from '../helpers/gpu-buffers.js';
import { realModel, WHISPER_TINY } from '../helpers/real-models.js';
import { startServer, type TestServer } from '../helpers/serve.js';
import { SENTENCES, speak, wordErrorRate } from '../helpers/speech.js';
import { KNOWN_TEXT } from '../helpers/stories.js';

describe('hearth serve --audio-model whisper-tiny.en (real file)', () => {
  let t: TestServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-serve-speech-'));
    t = await startServer({ audioModel: realModel(WHISPER_TINY), maxConcurrent: 2 });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('transcribes a spoken sentence (WER <= 15%) while a chat request runs beside it; no GPU buffer left', async () => {
    const text = SENTENCES[2]!;
    const wav = speak(text, dir, 'weather');
    const buffers = countBuffers(t.server.model.current().engine.ctx.device);
    expect((await t.client.models.list()).data.map((m) => m.id)).toEqual(['stories260K', 'whisper-tiny.en']);
    // one encoder pass over 30 s and a decoder step per token take minutes on a loaded SwiftShader
    const client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: 'none', maxRetries: 0, timeout: 900_000 });
    const transcription = client.audio.transcriptions.create({ file: createReadStream(wav), model: 'whisper-1', response_format: 'verbose_json' });
    await new Promise((r) => setTimeout(r, 200));
    // (each chat step waits on the device queue behind Whisper's work submitted before it: a few tokens)
    const chat = await client.completions.create({ model: 'stories260K', prompt: [1], max_tokens: 8, temperature: 0 });
    expect(t.server.scheduler.stats.active).toBe(1); // the transcription still runs: the chat ran beside it
    expect(chat.choices[0]!.text).toBe(KNOWN_TEXT.slice(0, chat.choices[0]!.text.length));
    expect(chat.usage!.completion_tokens).toBe(8);
    const r = await transcription;
    expect(r.language).toBe('en');
    expect(r.duration).toBeGreaterThan(2);
    expect(wordErrorRate(text, r.text), r.text).toBeLessThanOrEqual(0.15);
    expect(r.text).toBe(r.segments!.map((s) => s.text).join(''));
    expect(buffers.live()).toBe(0);
    buffers.stop();
  }, 900_000);
});
