/** Audio in (WAV parsing, PCM, resampling to 16 kHz, typed errors) and Whisper's log-mel against the reference and openai-whisper's filterbank. */
import { describe, expect, it } from 'vitest';
import { decodeAudio, parseWav, resample } from '../../src/audio/decode.js';
import { logMelSpectrogram, melFilterbank, melWindow, WINDOW_FRAMES } from '../../src/audio/mel.js';
import { logMelRef } from '../../src/reference/whisper.js';
import { isHearthError } from '../../src/errors.js';
import { compare, randomF32 } from '../helpers/random.js';

/** A RIFF/WAVE file of interleaved samples. */
function wav(channels: Float32Array[], rate: number, bits: 16 | 24 | 32, float = false): Uint8Array {
  const frames = channels[0]!.length;
  const width = bits / 8;
  const data = frames * channels.length * width;
  const out = new Uint8Array(44 + data);
  const dv = new DataView(out.buffer);
  const put = (at: number, s: string) => [...s].forEach((c, i) => (out[at + i] = c.charCodeAt(0)));
  put(0, 'RIFF');
  dv.setUint32(4, 36 + data, true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  dv.setUint32(16, 16, true);
  dv.setUint16(20, float ? 3 : 1, true);
  dv.setUint16(22, channels.length, true);
  dv.setUint32(24, rate, true);
  dv.setUint32(28, rate * channels.length * width, true);
  dv.setUint16(32, channels.length * width, true);
  dv.setUint16(34, bits, true);
  put(36, 'data');
  dv.setUint32(40, data, true);
  for (let i = 0; i < frames; i++) {
    channels.forEach((ch, c) => {
      const o = 44 + (i * channels.length + c) * width;
      const v = ch[i]!;
      if (float) dv.setFloat32(o, v, true);
      else if (bits === 16) dv.setInt16(o, Math.round(v * 32767), true);
      else if (bits === 24) {
        const x = Math.round(v * 8388607);
        out[o] = x & 255;
        out[o + 1] = (x >> 8) & 255;
        out[o + 2] = (x >> 16) & 255;
      } else dv.setInt32(o, Math.round(v * 2147483647), true);
    });
  }
  return out;
}

const sine = (n: number, rate: number, hz: number, amp = 0.5): Float32Array => Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / rate));

describe('audio decoding', () => {
  it('reads 16/24-bit PCM and float WAV, averages channels and resamples 44.1 kHz to 16 kHz without losing a 440 Hz tone', async () => {
    const left = sine(44100, 44100, 440);
    const right = sine(44100, 44100, 440, 0.25);
    for (const [bits, float] of [[16, false], [24, false], [32, true]] as const) {
      const got = await decodeAudio(wav([left, right], 44100, bits, float));
      expect(got.sourceRate).toBe(44100);
      expect(got.channels).toBe(2);
      expect(got.samples.length).toBe(16000);
      // away from the edges the output is the mono mix of the tone at 16 kHz
      const want = sine(16000, 16000, 440, 0.375);
      expect(compare(got.samples.subarray(200, 15800), want.subarray(200, 15800)).maxAbs).toBeLessThan(2e-3);
    }
  });

  it('drops what lies above the new Nyquist frequency (a 7 kHz tone at 48 kHz survives, 11 kHz does not)', () => {
    const rms = (x: Float32Array) => Math.sqrt(x.subarray(500, x.length - 500).reduce((a, v) => a + v * v, 0) / (x.length - 1000));
    expect(rms(resample(sine(48000, 48000, 7000), 48000, 16000))).toBeGreaterThan(0.33);
    expect(rms(resample(sine(48000, 48000, 11000), 48000, 16000))).toBeLessThan(0.01);
  });

  it('takes samples already decoded (what a page sends its worker)', async () => {
    const s = sine(8000, 8000, 300);
    const got = await decodeAudio({ samples: s, sampleRate: 8000 });
    expect(got.samples.length).toBe(16000);
  });

  it('refuses empty, unknown and damaged files with typed errors', async () => {
    const code = async (x: Parameters<typeof decodeAudio>[0]) => decodeAudio(x).then(() => 'none', (e: unknown) => (isHearthError(e) ? e.code : `untyped ${String(e)}`));
    expect(await code(new Uint8Array(0))).toBe('INVALID_ARGUMENT');
    expect(await code(randomF32(64, 3).buffer as ArrayBuffer)).toBe('UNSUPPORTED_FORMAT');
    const noData = wav([sine(10, 16000, 100)], 16000, 16).slice(0, 36);
    expect(await code(noData)).toBe('CORRUPT_FILE');
    expect(await code('not audio' as unknown as Uint8Array)).toBe('INVALID_ARGUMENT');
    expect(await code({ samples: new Float32Array(4), sampleRate: 0 })).toBe('INVALID_ARGUMENT');
    expect(parseWav(new TextEncoder().encode('RIFX....WAVE'))).toBeNull();
  });
});

describe('log-mel spectrogram', () => {
  it('the filterbank is openai-whisper\'s (assets/mel_filters.npz, librosa slaney): known values', () => {
    // from openai-whisper 20250625's mel_filters.npz: sum of w[i] * (i % 7), and one entry
    const checksum = (w: Float32Array) => w.reduce((a, v, i) => a + v * (i % 7), 0);
    const m80 = melFilterbank(80);
    expect(checksum(m80)).toBeCloseTo(6.328015098602918, 5);
    expect(m80[607]).toBeCloseTo(0.018890129402279854, 8);
    expect(checksum(melFilterbank(128))).toBeCloseTo(10.152111121652524, 5);
  });

  it('matches the reference DFT on 1.3 s of audio (80 bins), windows zero-filled past the end', () => {
    const x = randomF32(20800, 7, 0.3).map((v, i) => v * Math.sin(i / 50));
    const mel = logMelSpectrogram(x, 80);
    expect(mel.contentFrames).toBe(130);
    expect(mel.frames).toBe(130 + WINDOW_FRAMES);
    expect(compare(mel.data, logMelRef(x, 80)).maxAbs).toBeLessThan(1e-4);
    const w = melWindow(mel, 100);
    expect(w.length).toBe(WINDOW_FRAMES * 80);
    expect(w.subarray(0, 80)).toEqual(mel.data.subarray(100 * 80, 101 * 80));
    expect(w.subarray((mel.frames - 100) * 80).every((v) => v === 0)).toBe(true);
  });
});
