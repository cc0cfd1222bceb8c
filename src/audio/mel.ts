/**
 * Whisper's log-mel spectrogram, as openai-whisper's audio.py computes it: 16 kHz samples, a
 * 400-point STFT (periodic Hann window, hop 160, reflect padding of 200 at both ends, last frame
 * dropped), power spectrum through librosa's Slaney mel filterbank (80 or 128 bins, 0 to 8 kHz,
 * area-normalised), log10 floored at 1e-10, clamped to (max - 8), then (x + 4) / 4.
 * Computed on the CPU (in the worker): a 30 s window costs about 0.5 GFLOP, small beside the encoder.
 */
import { check } from '../errors.js';
import { throwIfAborted } from '../hub/byte-source.js';

export const SAMPLE_RATE = 16000;
export const N_FFT = 400;
export const HOP = 160;
/** Samples and frames of one 30 s window. */
export const WINDOW_SAMPLES = 30 * SAMPLE_RATE;
export const WINDOW_FRAMES = WINDOW_SAMPLES / HOP;

const BINS = N_FFT / 2 + 1;

/** librosa.filters.mel(sr=16000, n_fft=400, n_mels, htk=False, norm='slaney'): [nMels, 201], row-major. */
export function melFilterbank(nMels: number, sampleRate = SAMPLE_RATE, nFft = N_FFT): Float32Array {
  const fSp = 200 / 3;
  const minLogHz = 1000;
  const minLogMel = minLogHz / fSp;
  const logStep = Math.log(6.4) / 27;
  const hzToMel = (f: number): number => (f < minLogHz ? f / fSp : minLogMel + Math.log(f / minLogHz) / logStep);
  const melToHz = (m: number): number => (m < minLogMel ? fSp * m : minLogHz * Math.exp(logStep * (m - minLogMel)));
  const bins = nFft / 2 + 1;
  const top = hzToMel(sampleRate / 2);
  const melF = Array.from({ length: nMels + 2 }, (_, i) => melToHz((top * i) / (nMels + 1)));
  const out = new Float32Array(nMels * bins);
  for (let m = 0; m < nMels; m++) {
    const enorm = 2 / (melF[m + 2]! - melF[m]!);
    for (let k = 0; k < bins; k++) {
      const f = (k * sampleRate) / nFft;
      const lower = (f - melF[m]!) / (melF[m + 1]! - melF[m]!);
      const upper = (melF[m + 2]! - f) / (melF[m + 2]! - melF[m + 1]!);
      out[m * bins + k] = Math.max(0, Math.min(lower, upper)) * enorm;
    }
  }
  return out;
}

let tables: { cos: Float64Array; sin: Float64Array; window: Float64Array } | null = null;

function dftTables(): { cos: Float64Array; sin: Float64Array; window: Float64Array } {
  if (tables) return tables;
  const cos = new Float64Array(BINS * N_FFT);
  const sin = new Float64Array(BINS * N_FFT);
  for (let k = 0; k < BINS; k++) {
    for (let n = 0; n < N_FFT; n++) {
      const a = (2 * Math.PI * ((k * n) % N_FFT)) / N_FFT;
      cos[k * N_FFT + n] = Math.cos(a);
      sin[k * N_FFT + n] = Math.sin(a);
    }
  }
  const window = Float64Array.from({ length: N_FFT }, (_, n) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / N_FFT));
  tables = { cos, sin, window };
  return tables;
}

export interface LogMel {
  /** [frames, nMels], frame-major (the encoder's conv reads time steps as rows). */
  data: Float32Array;
  frames: number;
  nMels: number;
  /** Frames of real audio (the rest is the 30 s of silence appended, as Whisper does). */
  contentFrames: number;
}

/**
 * Log-mel of `samples` (16 kHz mono) with 30 s of silence appended (whisper's
 * log_mel_spectrogram(audio, padding=N_SAMPLES)), so any 30 s window starting inside the audio is whole.
 */
export function logMelSpectrogram(samples: Float32Array, nMels: number, signal?: AbortSignal): LogMel {
  check(Number.isInteger(nMels) && nMels > 0, `logMelSpectrogram: nMels must be a positive integer, got ${nMels}.`);
  const n = samples.length + WINDOW_SAMPLES;
  const frames = Math.floor(n / HOP);
  const filters = melFilterbank(nMels);
  const { cos, sin, window } = dftTables();
  const at = (j: number): number => {
    // reflect padding: index -1 is sample 1, index n is sample n - 2
    if (j < 0) j = -j;
    if (j >= n) j = 2 * (n - 1) - j;
    return j < samples.length ? samples[j]! : 0;
  };
  const out = new Float32Array(frames * nMels);
  const frame = new Float64Array(N_FFT);
  const power = new Float64Array(BINS);
  let max = -Infinity;
  for (let t = 0; t < frames; t++) {
    if (t % 256 === 0) throwIfAborted(signal);
    const start = t * HOP - N_FFT / 2;
    const silent = start >= samples.length;
    if (!silent) {
      for (let i = 0; i < N_FFT; i++) frame[i] = at(start + i) * window[i]!;
      for (let k = 0; k < BINS; k++) {
        let re = 0;
        let im = 0;
        const o = k * N_FFT;
        for (let i = 0; i < N_FFT; i++) {
          re += frame[i]! * cos[o + i]!;
          im += frame[i]! * sin[o + i]!;
        }
        power[k] = re * re + im * im;
      }
    }
    for (let m = 0; m < nMels; m++) {
      let s = 0;
      if (!silent) for (let k = 0; k < BINS; k++) s += filters[m * BINS + k]! * power[k]!;
      const v = Math.log10(Math.max(s, 1e-10));
      out[t * nMels + m] = v;
      if (v > max) max = v;
    }
  }
  const floor = max - 8;
  for (let i = 0; i < out.length; i++) out[i] = (Math.max(out[i]!, floor) + 4) / 4;
  return { data: out, frames, nMels, contentFrames: Math.floor(samples.length / HOP) };
}

/**
 * Frames [start, start + frames) of a log-mel, zero-filled past the end of the audio: whisper's
 * transcribe() takes mel[:, seek : seek + min(N_FRAMES, content_frames - seek)] and pad_or_trim
 * pads it with zeros (faster-whisper does the same), so a window's tail after the audio is 0, not
 * the log-mel of the appended silence.
 */
export function melWindow(mel: LogMel, start: number, frames = WINDOW_FRAMES): Float32Array {
  const out = new Float32Array(frames * mel.nMels);
  const end = Math.min(mel.contentFrames, start + frames);
  if (end > start) out.set(mel.data.subarray(start * mel.nMels, end * mel.nMels));
  return out;
}
