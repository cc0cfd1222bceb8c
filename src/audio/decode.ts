/**
 * Audio files to what Whisper hears: 16 kHz mono float samples. In a page, the browser's own
 * decoder (AudioContext.decodeAudioData); in workers and Node, audio-decode (WAV, MP3, FLAC,
 * OGG Vorbis/Opus, WebM, AAC, ... in JS/WASM, loaded on first use). Then channels averaged and a
 * windowed-sinc resampler to 16 kHz.
 */
import { HearthError } from '../errors.js';
import { throwIfAborted } from '../hub/byte-source.js';
import { SAMPLE_RATE } from './mel.js';

export type AudioInput = Blob | ArrayBuffer | Uint8Array;

export interface DecodedAudio {
  /** Mono, 16 kHz. */
  samples: Float32Array;
  /** The file's own sample rate and channel count. */
  sourceRate: number;
  channels: number;
}

async function bytesOf(input: AudioInput): Promise<Uint8Array> {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (typeof Blob !== 'undefined' && input instanceof Blob) return new Uint8Array(await input.arrayBuffer());
  throw new HearthError('INVALID_ARGUMENT', 'The audio file must be a Blob, File, ArrayBuffer or Uint8Array.', {
    hint: 'Pass the file as read from disk or an <input type="file">, or a recording Blob.',
  });
}

interface PcmChannels {
  channelData: Float32Array[];
  sampleRate: number;
}

/** The browser's decoder, where there is one (pages; not workers, which have no AudioContext). */
async function decodeWithAudioContext(bytes: Uint8Array): Promise<PcmChannels | null> {
  const AC = (globalThis as { OfflineAudioContext?: new (c: number, l: number, r: number) => BaseAudioContext }).OfflineAudioContext;
  if (!AC) return null;
  const ac = new AC(1, 1, SAMPLE_RATE);
  const buf = await ac.decodeAudioData(bytes.slice().buffer);
  return { channelData: Array.from({ length: buf.numberOfChannels }, (_, i) => buf.getChannelData(i)), sampleRate: buf.sampleRate };
}

async function decodeWithLibrary(bytes: Uint8Array): Promise<PcmChannels> {
  const { default: decode } = await import('audio-decode');
  return decode(bytes);
}

/** Decodes an audio file (WAV, MP3, FLAC, OGG/Opus, WebM, ...) to 16 kHz mono. */
export async function decodeAudio(input: AudioInput, signal?: AbortSignal): Promise<DecodedAudio> {
  const bytes = await bytesOf(input);
  throwIfAborted(signal);
  if (bytes.byteLength === 0) throw new HearthError('INVALID_ARGUMENT', 'The audio file is empty.', { hint: 'Record or choose a file with some sound in it.' });
  let pcm: PcmChannels | null = null;
  try {
    pcm = (await decodeWithAudioContext(bytes).catch(() => null)) ?? (await decodeWithLibrary(bytes));
  } catch (e) {
    throw new HearthError('UNSUPPORTED_FORMAT', `The audio file could not be decoded (${e instanceof Error ? e.message : String(e)}).`, {
      hint: 'Use WAV, MP3, FLAC, OGG (Vorbis or Opus) or WebM audio.',
      cause: e,
    });
  }
  throwIfAborted(signal);
  const channels = pcm.channelData.length;
  if (channels === 0 || !(pcm.sampleRate > 0)) {
    throw new HearthError('UNSUPPORTED_FORMAT', 'The audio file decoded to no channels.', { hint: 'Use WAV, MP3, FLAC, OGG (Vorbis or Opus) or WebM audio.' });
  }
  const len = pcm.channelData[0]!.length;
  const mono = new Float32Array(len);
  for (const ch of pcm.channelData) for (let i = 0; i < len; i++) mono[i] = mono[i]! + ch[i]! / channels;
  return { samples: resample(mono, pcm.sampleRate, SAMPLE_RATE), sourceRate: pcm.sampleRate, channels };
}

/**
 * Band-limited resampling by a Hann-windowed sinc (16 zero crossings each side), cut off at the
 * lower Nyquist frequency so downsampling does not alias.
 */
export function resample(x: Float32Array, from: number, to: number): Float32Array {
  if (from === to) return x;
  const ratio = to / from;
  const cutoff = Math.min(1, ratio);
  const half = 16 / cutoff; // input samples each side of the centre
  const n = Math.floor(x.length * ratio);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / ratio;
    const lo = Math.max(0, Math.ceil(t - half));
    const hi = Math.min(x.length - 1, Math.floor(t + half));
    let s = 0;
    for (let j = lo; j <= hi; j++) {
      const d = j - t;
      const w = 0.5 + 0.5 * Math.cos((Math.PI * d) / half);
      const a = Math.PI * d * cutoff;
      s += x[j]! * w * (a === 0 ? cutoff : (cutoff * Math.sin(a)) / a);
    }
    out[i] = s;
  }
  return out;
}
