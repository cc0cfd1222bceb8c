/**
 * Audio files to what Whisper hears: 16 kHz mono float samples. WAV (PCM 8/16/24/32-bit, float
 * 32/64) is read here, anywhere. Other formats: in a page, the browser's own decoder
 * (AudioContext.decodeAudioData: MP3, FLAC, OGG Vorbis/Opus, WebM, AAC); in Node, audio-decode
 * (the same formats in JS/WASM, loaded on first use). A browser worker has neither, so the client
 * decodes in the page and hands the worker samples (PcmAudio). Then channels averaged and a
 * windowed-sinc resampler to 16 kHz.
 */
import { HearthError } from '../errors.js';
import { throwIfAborted } from '../hub/byte-source.js';
import { SAMPLE_RATE } from './mel.js';

/** Samples already decoded (a page decodes with its AudioContext and sends these to the worker). */
export interface PcmAudio {
  samples: Float32Array;
  sampleRate: number;
}

export type AudioInput = Blob | ArrayBuffer | Uint8Array | PcmAudio;

const isPcm = (x: unknown): x is PcmAudio => typeof x === 'object' && x !== null && (x as PcmAudio).samples instanceof Float32Array && typeof (x as PcmAudio).sampleRate === 'number';

export interface DecodedAudio {
  /** Mono, 16 kHz. */
  samples: Float32Array;
  /** The file's own sample rate and channel count. */
  sourceRate: number;
  channels: number;
}

async function bytesOf(input: Exclude<AudioInput, PcmAudio>): Promise<Uint8Array> {
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

/** A RIFF/WAVE file's samples, or null when the bytes are not one. */
export function parseWav(bytes: Uint8Array): PcmChannels | null {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number): string => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (bytes.byteLength < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') return null;
  let fmt: { format: number; channels: number; rate: number; bits: number } | null = null;
  for (let at = 12; at + 8 <= bytes.byteLength; ) {
    const id = tag(at);
    const size = dv.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'fmt ' && size >= 16) {
      let format = dv.getUint16(body, true);
      if (format === 0xfffe && size >= 26) format = dv.getUint16(body + 24, true); // WAVE_FORMAT_EXTENSIBLE: the sub-format
      fmt = { format, channels: dv.getUint16(body + 2, true), rate: dv.getUint32(body + 4, true), bits: dv.getUint16(body + 14, true) };
    } else if (id === 'data' && fmt) {
      const { format, channels, rate, bits } = fmt;
      const width = bits / 8;
      const supported = (format === 1 && [8, 16, 24, 32].includes(bits)) || (format === 3 && (bits === 32 || bits === 64));
      if (!supported || channels < 1) {
        throw new HearthError('UNSUPPORTED_FORMAT', `WAV with format ${format}, ${bits}-bit samples is not supported.`, { hint: 'Use PCM (8/16/24/32-bit) or float WAV, or another format such as FLAC.' });
      }
      // a data chunk that claims more than the file holds (streamed recorders write 0 or -1): what is there
      const end = Math.min(bytes.byteLength, size === 0 || size === 0xffffffff ? bytes.byteLength : body + size);
      const frames = Math.floor((end - body) / (width * channels));
      const out = Array.from({ length: channels }, () => new Float32Array(frames));
      for (let i = 0; i < frames; i++) {
        for (let c = 0; c < channels; c++) {
          const o = body + (i * channels + c) * width;
          let v: number;
          if (format === 3) v = bits === 32 ? dv.getFloat32(o, true) : dv.getFloat64(o, true);
          else if (bits === 8) v = (bytes[o]! - 128) / 128;
          else if (bits === 16) v = dv.getInt16(o, true) / 32768;
          else if (bits === 24) v = ((bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16)) << 8 >> 8) / 8388608;
          else v = dv.getInt32(o, true) / 2147483648;
          out[c]![i] = v;
        }
      }
      return { channelData: out, sampleRate: rate };
    }
    at = body + size + (size % 2);
  }
  throw new HearthError('CORRUPT_FILE', 'The WAV file has no fmt and data chunks.', { hint: 'The file is damaged or cut short: record or export it again.' });
}

/** audio-decode in Node; a bare import a bundler does not follow (browser workers get PCM from the page). */
async function decodeWithLibrary(bytes: Uint8Array): Promise<PcmChannels> {
  const isNode = typeof process !== 'undefined' && !!(process as { versions?: { node?: string } }).versions?.node;
  if (!isNode) {
    throw new HearthError('UNSUPPORTED_FORMAT', 'Only WAV can be decoded inside a worker.', {
      hint: 'Pass the file through engine.audio (it decodes in the page with AudioContext) or send WAV.',
    });
  }
  const name = 'audio-decode';
  const { default: decode } = (await import(/* @vite-ignore */ name)) as { default: (b: Uint8Array) => Promise<PcmChannels> };
  return decode(bytes);
}

/** Decodes an audio file (WAV, MP3, FLAC, OGG/Opus, WebM, ...) to 16 kHz mono. */
export async function decodeAudio(input: AudioInput, signal?: AbortSignal): Promise<DecodedAudio> {
  if (isPcm(input)) {
    if (!(input.sampleRate >= 1000 && input.sampleRate <= 384000)) throw new HearthError('INVALID_ARGUMENT', `A sample rate of ${input.sampleRate} Hz is not audio Hearth can take.`, { hint: 'Pass samples at 8 to 384 kHz.' });
    return { samples: resample(input.samples, input.sampleRate, SAMPLE_RATE), sourceRate: input.sampleRate, channels: 1 };
  }
  const bytes = await bytesOf(input);
  throwIfAborted(signal);
  if (bytes.byteLength === 0) throw new HearthError('INVALID_ARGUMENT', 'The audio file is empty.', { hint: 'Record or choose a file with some sound in it.' });
  let pcm: PcmChannels | null = null;
  try {
    pcm = parseWav(bytes) ?? (await decodeWithAudioContext(bytes).catch(() => null)) ?? (await decodeWithLibrary(bytes));
  } catch (e) {
    if (e instanceof HearthError) throw e;
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
