/**
 * engine.audio end to end with a small random-weight Whisper (CTranslate2 layout, the real tiny.en
 * tokenizer and decoding lists, 0.16 s windows and 16 decoder positions, so at most 8 tokens a
 * window and the whole pipeline runs in seconds): GPU buffers
 * do not grow over 20 transcriptions in a row, response formats, abort, typed errors, and a chat
 * model and a Whisper model held by one engine, each freed on its own.
 */
import { describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '../../src/node.js';
import { AudioEngine, type TranscriptionVerbose } from '../../src/api/audio.js';
import { MemoryModelSource } from '../../src/hub/memory.js';
import { isHearthError } from '../../src/errors.js';
import type { WhisperConfig } from '../../src/formats/whisper.js';
import { testGpu } from '../helpers/gpu.js';
import { countBuffers } from '../helpers/gpu-buffers.js';
import { realModel, WHISPER_TINY } from '../helpers/real-models.js';
import { STORIES } from '../helpers/stories.js';
import { chirp, randomWhisperWeights, writeCt2Whisper } from '../fixtures/whisper.js';
import { WhisperModel } from '../../src/models/whisper.js';
import { decodeAudio } from '../../src/audio/decode.js';
import { logMelSpectrogram } from '../../src/audio/mel.js';

const config: WhisperConfig = { nMels: 80, dModel: 64, ffnDim: 128, encoderLayers: 1, decoderLayers: 1, encoderHeads: 2, decoderHeads: 2, nAudioCtx: 8, nTextCtx: 16, vocabSize: 51864 };

function smallWhisperFiles(): Record<string, Uint8Array> {
  const dir = realModel(WHISPER_TINY);
  return {
    'model.bin': writeCt2Whisper(config, randomWhisperWeights(config, 4)),
    'tokenizer.json': readFileSync(join(dir, 'tokenizer.json')),
    'config.json': readFileSync(join(dir, 'config.json')),
  };
}

describe('engine.audio with a small random Whisper', () => {
  it("feeds the encoder the audio's log-mel and zeros after it, as whisper's pad_or_trim and faster-whisper do (not the appended silence's log-mel)", async () => {
    const ctx = await testGpu();
    const audio = new AudioEngine(ctx);
    await audio.load(new MemoryModelSource(smallWhisperFiles()), 'small');
    const file = chirp(0.1); // 10 mel frames of audio in a 16-frame window
    const encode = vi.spyOn(WhisperModel.prototype, 'encode');
    try {
      await audio.transcriptions.create({ file });
      expect(encode).toHaveBeenCalledTimes(1);
      const window = encode.mock.calls[0]![0] as Float32Array;
      const mel = logMelSpectrogram((await decodeAudio(file)).samples, 80);
      expect(mel.contentFrames).toBe(10);
      expect(window.length).toBe(16 * 80);
      expect(window.subarray(0, 10 * 80)).toEqual(mel.data.subarray(0, 10 * 80));
      // the appended silence's log-mel is the floor (max - 8 + 4) / 4, far from 0: the window must not hold it
      expect(Math.abs(mel.data[12 * 80]!)).toBeGreaterThan(0.1);
      expect(window.subarray(10 * 80).every((x) => x === 0)).toBe(true);
    } finally {
      encode.mockRestore();
      audio.unload();
    }
  });

  it("prompts each window with the tokens of the segments handed out (transcribe.py's all_tokens), not the unfinished last segment the next window decodes again", async () => {
    const ctx = await testGpu();
    const audio = new AudioEngine(ctx);
    await audio.load(new MemoryModelSource(smallWhisperFiles()), 'small');
    // a scripted decoder in place of the GPU one: window 1 says <|0.00|> A <|0.10|><|0.10|> B, the
    // last segment unfinished (no closing timestamp), so the next window starts at 0.10 s
    // and hears B again; later windows say <|0.00|> C <|0.04|>
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const whisper = (audio as any).whisper;
    const tb = whisper.specials.timestampBegin as number;
    const eot = whisper.specials.eot as number;
    const [A, B, C] = [32, 33, 34];
    const prompts: number[][] = [];
    let script: number[] = [];
    const gpuModel = whisper.model as WhisperModel;
    whisper.model = {
      encode: async () => {},
      decode: async (tokens: readonly number[], pos: number) => {
        if (pos === 0) {
          prompts.push(tokens.length > 1 ? tokens.slice(1, -1) : []); // [<|startofprev|>, ...prompt, <|startoftranscript|>]
          script = prompts.length === 1 ? [tb, A, tb + 5, tb + 5, B, eot] : [tb, C, tb + 2, eot];
        }
        const logits = new Float32Array(config.vocabSize).fill(-100);
        logits[script.shift() ?? eot] = 20;
        return logits;
      },
      destroy: () => {},
    };
    const r = (await audio.transcriptions.create({ file: chirp(0.3), response_format: 'verbose_json' })) as TranscriptionVerbose;
    expect(r.segments[0]).toMatchObject({ start: 0, end: 0.1, tokens: [tb, A, tb + 5] });
    expect(r.segments[1]!.start).toBeCloseTo(0.1, 5); // the window after the unfinished segment
    expect(prompts.length).toBeGreaterThan(1);
    expect(prompts[0]).toEqual([]);
    expect(prompts[1]).toEqual([tb, A, tb + 5]); // not ..., tb + 5, B
    expect(prompts[2]).toEqual([tb, A, tb + 5, tb, C, tb + 2]);
    audio.unload();
    gpuModel.destroy();
  });

  it('20 transcriptions in a row leave the GPU buffer count and bytes where the first left them', async () => {
    const ctx = await testGpu();
    const buffers = countBuffers(ctx.device);
    const audio = new AudioEngine(ctx);
    await audio.load(new MemoryModelSource(smallWhisperFiles()), 'small');
    const file = chirp(0.1);
    const counts: [number, number][] = [];
    for (let i = 0; i < 20; i++) {
      const r = (await audio.transcriptions.create({ file, response_format: 'verbose_json' })) as TranscriptionVerbose;
      expect(r.duration).toBeCloseTo(0.1, 5);
      counts.push([buffers.live(), buffers.bytes()]);
    }
    expect(new Set(counts.map((c) => c.join('/'))).size).toBe(1);
    const loaded = buffers.live();
    audio.unload();
    expect(buffers.live()).toBeLessThan(loaded);
    buffers.stop();
  });

  it('response formats, abort, and typed errors for bad requests', async () => {
    const ctx = await testGpu();
    const audio = new AudioEngine(ctx);
    const file = chirp(0.1);
    await expect(audio.transcriptions.create({ file })).rejects.toMatchObject({ code: 'ENGINE_UNLOADED' });
    await audio.load(new MemoryModelSource(smallWhisperFiles()), 'small');
    const v = (await audio.transcriptions.create({ file, response_format: 'verbose_json' })) as TranscriptionVerbose;
    // timestamps stay inside the audio (the small model's windows are 0.16 s; its timestamp tokens past that are masked)
    const long = (await audio.transcriptions.create({ file: chirp(0.5), response_format: 'verbose_json' })) as TranscriptionVerbose;
    expect(long.segments.length).toBeGreaterThan(0);
    for (const s of long.segments) expect(0 <= s.start && s.start <= s.end && s.end <= long.duration).toBe(true);
    const text = await audio.transcriptions.create({ file, response_format: 'text' });
    expect(text).toBe(v.text);
    expect(await audio.transcriptions.create({ file })).toEqual({ text: v.text });
    const vtt = await audio.transcriptions.create({ file, response_format: 'vtt' });
    expect(vtt.startsWith('WEBVTT')).toBe(true);
    const codes = async (p: Parameters<typeof audio.transcriptions.create>[0]) => audio.transcriptions.create(p).then(() => 'none', (e: unknown) => (isHearthError(e) ? e.code : String(e)));
    expect(await codes({ file, response_format: 'xml' as 'json' })).toBe('INVALID_ARGUMENT');
    expect(await codes({ file, timestamp_granularities: ['word'] })).toBe('INVALID_ARGUMENT');
    expect(await codes({ file, temperature: 3 })).toBe('INVALID_ARGUMENT');
    expect(await codes({ file, language: 'de' })).toBe('INVALID_ARGUMENT'); // an .en tokenizer
    expect(await codes({ file: new Uint8Array([1, 2, 3]) })).toBe('UNSUPPORTED_FORMAT');
    const ctrl = new AbortController();
    ctrl.abort();
    expect(await codes({ file, signal: ctrl.signal })).toBe('ABORTED');
    // the engine still answers after the failures
    expect(await audio.transcriptions.create({ file, response_format: 'text' })).toBe(v.text);
    audio.unload();
  });

  it('one engine holds a chat model and a Whisper model; unloading Whisper frees only its buffers', async () => {
    const ctx = await testGpu();
    const dir = mkdtempSync(join(tmpdir(), 'hearth-whisper-small-'));
    mkdirSync(dir, { recursive: true });
    for (const [name, bytes] of Object.entries(smallWhisperFiles())) writeFileSync(join(dir, name), bytes);
    const buffers = countBuffers(ctx.device);
    const engine = await createEngine({ model: STORIES, gpu: ctx, audioModel: dir });
    expect(engine.audio.info?.config.dModel).toBe(64);
    const withBoth = buffers.live();
    const r = await engine.audio.transcriptions.create({ file: chirp(0.1), response_format: 'verbose_json' });
    expect(typeof r.text).toBe('string');
    await engine.audio.unload();
    expect(engine.audio.info).toBeNull();
    expect(buffers.live()).toBeLessThan(withBoth);
    const c = await engine.completions.create({ prompt: 'Once upon a time', max_tokens: 8, temperature: 0 });
    expect(c.choices[0]!.text.length).toBeGreaterThan(0);
    await engine.unload();
    buffers.stop();
  });
});
