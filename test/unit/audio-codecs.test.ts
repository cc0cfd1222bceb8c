/**
 * The compressed formats Whisper users send (MP3, FLAC, OGG Vorbis, OGG Opus) decoded in Node by
 * decodeAudio, against the WAV they were made from: espeak-ng speaks a sentence, Debian's own
 * encoders (lame, flac, oggenc, opusenc; scripts/setup.sh installs them) compress it, and the
 * decoded 16 kHz signal must be the WAV's (FLAC bit for bit, the lossy ones by correlation after
 * the encoder's delay).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeAudio } from '../../src/audio/decode.js';
import { speak } from '../helpers/speech.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-codecs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tool = (name: string) => {
  try {
    execFileSync('which', [name], { stdio: 'ignore' });
  } catch {
    throw new Error(`${name} is missing: run scripts/setup.sh (it installs lame, flac, vorbis-tools and opus-tools from Debian).`);
  }
};

/** The best normalised correlation of `b` against `a` over lags 0..maxLag (b delayed by the encoder). */
function bestCorrelation(a: Float32Array, b: Float32Array, maxLag: number): { r: number; lag: number } {
  let best = { r: -1, lag: 0 };
  const n = Math.min(a.length, b.length) - maxLag;
  for (let lag = 0; lag <= maxLag; lag += 1) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let i = 0; i < n; i += 2) {
      const x = a[i]!;
      const y = b[i + lag]!;
      ab += x * y;
      aa += x * x;
      bb += y * y;
    }
    const r = ab / Math.sqrt(aa * bb || 1);
    if (r > best.r) best = { r, lag };
  }
  return best;
}

describe('compressed audio in Node', () => {
  const wavPath = speak('Please call Stella and ask her to bring these things with her.', dir, 'stella');
  const encoders: Array<{ name: string; file: string; make: (out: string) => void; lossless?: boolean }> = [
    { name: 'FLAC', file: 'stella.flac', lossless: true, make: (out) => (tool('flac'), execFileSync('flac', ['-s', '-f', '-o', out, wavPath])) },
    { name: 'MP3', file: 'stella.mp3', make: (out) => (tool('lame'), execFileSync('lame', ['--quiet', '-b', '64', wavPath, out])) },
    { name: 'OGG Vorbis', file: 'stella.ogg', make: (out) => (tool('oggenc'), execFileSync('oggenc', ['-Q', '-q', '3', '-o', out, wavPath])) },
    { name: 'OGG Opus', file: 'stella.opus', make: (out) => (tool('opusenc'), execFileSync('opusenc', ['--quiet', '--bitrate', '32', wavPath, out])) },
  ];

  it.each(encoders)('$name decodes to the WAV it was made from', async ({ file, make, lossless }) => {
    const out = join(dir, file);
    make(out);
    const ref = await decodeAudio(readFileSync(wavPath));
    const got = await decodeAudio(new Uint8Array(readFileSync(out)));
    expect(got.samples.length).toBeGreaterThan(16000);
    // same length within the encoder's padding (under 0.1 s)
    expect(Math.abs(got.samples.length - ref.samples.length)).toBeLessThan(1600);
    if (lossless) {
      expect(got.sourceRate).toBe(ref.sourceRate);
      let worst = 0;
      for (let i = 0; i < ref.samples.length; i++) worst = Math.max(worst, Math.abs(got.samples[i]! - ref.samples[i]!));
      expect(worst).toBeLessThan(1e-4);
    } else {
      const { r } = bestCorrelation(ref.samples, got.samples, 1600);
      expect(r).toBeGreaterThan(0.9);
    }
  });
});
