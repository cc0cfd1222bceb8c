/**
 * The real Whisper tiny.en (faster-whisper's CTranslate2 files) through engine.audio on Dawn:
 * three known sentences (16 s) spoken by espeak-ng in the acceptance voice (ESPEAK_VOICE), in one 30 s window (the encoder always runs over
 * 30 s, so one window keeps this a single encoder pass): word error rate, monotonic timestamps,
 * segments streamed as they come, the response formats, and no GPU buffers left behind by a
 * second request. faster-whisper gives 13.3% WER on this clip (greedy, same model folder). The whole
 * acceptance set (12 sentences, a 70 s passage, 20 runs in a row, faster-whisper beside it) is
 * bench/whisper.ts.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTranscriber, type TranscriptionSegment, type TranscriptionVerbose } from '../../src/node.js';
import { testGpu } from '../helpers/gpu.js';
import { countBuffers } from '../helpers/gpu-buffers.js';
import { realModel, WHISPER_TINY } from '../helpers/real-models.js';
import { SENTENCES, speak, wordErrorRate } from '../helpers/speech.js';

describe('Whisper tiny.en (real file) on espeak-ng speech', () => {
  it('transcribes three sentences: WER <= 15%, monotonic timestamps, segments streamed, formats agree, no buffers left', async () => {
    const ctx = await testGpu();
    const buffers = countBuffers(ctx.device);
    const audio = await createTranscriber({ model: realModel(WHISPER_TINY), gpu: ctx });
    const text = SENTENCES.slice(1, 4).join(' ');
    const file = readFileSync(speak(text, mkdtempSync(join(tmpdir(), 'hearth-whisper-')), 'three'));
    const streamed: TranscriptionSegment[] = [];
    const before = buffers.live();
    const r = (await audio.transcriptions.create({ file, response_format: 'verbose_json', onSegment: (s) => streamed.push(s) })) as TranscriptionVerbose;
    expect(buffers.live()).toBe(before);
    expect(r.duration).toBeGreaterThan(8);
    expect(r.duration).toBeLessThan(30);
    expect(r.language).toBe('en');
    const wer = wordErrorRate(text, r.text);
    expect(wer, r.text).toBeLessThanOrEqual(0.15);
    expect(streamed).toEqual(r.segments);
    expect(r.segments.length).toBeGreaterThan(0);
    let last = 0;
    for (const s of r.segments) {
      expect(s.start).toBeGreaterThanOrEqual(last);
      expect(s.end).toBeGreaterThan(s.start);
      expect(s.end).toBeLessThanOrEqual(r.duration + 0.5);
      last = s.start;
    }
    expect(r.text).toBe(r.segments.map((s) => s.text).join(''));
    // srt from the same run's segments (formatting only: no second transcription)
    const { formatTranscript } = await import('../../src/api/audio.js');
    const srt = formatTranscript({ ...r, segments: r.segments }, 'srt') as string;
    expect(srt.split('\n\n').filter(Boolean)).toHaveLength(r.segments.length);
    expect(srt).toMatch(/^1\n00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}\n/);
    const vtt = formatTranscript({ ...r, segments: r.segments }, 'vtt') as string;
    expect(vtt.startsWith('WEBVTT\n\n')).toBe(true);
    await audio.unload();
    expect(buffers.live()).toBeLessThan(before);
    buffers.stop();
  }, 900_000);
});
