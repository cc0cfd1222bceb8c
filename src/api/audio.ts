/**
 * OpenAI's audio surface over a local Whisper: `audio.transcriptions.create({ file, language?,
 * prompt?, temperature?, response_format?, timestamp_granularities? })`, the same in Node, in the
 * browser worker and behind `hearth serve`'s POST /v1/audio/transcriptions. Segments can be
 * streamed with `onSegment` as each 30 s window is decoded; `signal` aborts between tokens.
 *
 * Memory: the Whisper model lives on the same GPU device as the chat model but in buffers of its
 * own (weights in their file's f16/f32, plus its working state: about 110 MB for tiny); load()
 * replaces it, unload() frees every one of them, and the chat model is never touched.
 */
import { decodeAudio, type AudioInput } from '../audio/decode.js';
import { HearthError } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import type { ModelSource } from '../hub/byte-source.js';
import { Whisper, type Transcript, type TranscriptSegment, type WhisperInfo } from '../engine/whisper.js';

export type TranscriptionResponseFormat = 'json' | 'text' | 'verbose_json' | 'srt' | 'vtt';

export type TranscriptionSegment = TranscriptSegment;

export interface TranscriptionCreateParams {
  /** WAV, MP3, FLAC, OGG (Vorbis/Opus) or WebM bytes: a Blob/File, ArrayBuffer or Uint8Array. */
  file: AudioInput;
  /** Informational (the loaded Whisper model answers). */
  model?: string;
  /** ISO 639-1 language of the audio; multilingual models detect it when absent. */
  language?: string;
  /** Text to condition on: names, spellings, the previous part of the recording. */
  prompt?: string;
  /** 0 (default): greedy. Above: sampling. */
  temperature?: number;
  /** Default 'json'. */
  response_format?: TranscriptionResponseFormat;
  /** 'segment' (what verbose_json always has); 'word' is not supported yet. */
  timestamp_granularities?: ('segment' | 'word')[];
  /** Each segment as soon as its window is decoded. */
  onSegment?: (segment: TranscriptionSegment) => void;
  signal?: AbortSignal;
}

export interface Transcription {
  text: string;
}

export interface TranscriptionVerbose {
  task: 'transcribe';
  language: string;
  /** Seconds of audio. */
  duration: number;
  text: string;
  segments: TranscriptionSegment[];
}

export type TranscriptionResult = Transcription | TranscriptionVerbose | string;

export interface AudioApi {
  transcriptions: {
    create(params: TranscriptionCreateParams & { response_format: 'text' | 'srt' | 'vtt' }): Promise<string>;
    create(params: TranscriptionCreateParams & { response_format: 'verbose_json' }): Promise<TranscriptionVerbose>;
    create(params: TranscriptionCreateParams): Promise<TranscriptionResult>;
  };
}

const FORMATS: readonly TranscriptionResponseFormat[] = ['json', 'text', 'verbose_json', 'srt', 'vtt'];

function clock(seconds: number, sep: ',' | '.'): string {
  const ms = Math.round(seconds * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}${sep}${pad(ms % 1000, 3)}`;
}

/** A transcript in one of OpenAI's response formats. */
export function formatTranscript(t: Transcript, format: TranscriptionResponseFormat): TranscriptionResult {
  switch (format) {
    case 'json':
      return { text: t.text };
    case 'text':
      return t.text;
    case 'verbose_json':
      return { task: 'transcribe', language: t.language, duration: t.duration, text: t.text, segments: t.segments };
    case 'srt':
      return t.segments.map((s, i) => `${i + 1}\n${clock(s.start, ',')} --> ${clock(s.end, ',')}\n${s.text.trim()}\n`).join('\n');
    case 'vtt':
      return `WEBVTT\n\n${t.segments.map((s) => `${clock(s.start, '.')} --> ${clock(s.end, '.')}\n${s.text.trim()}\n`).join('\n')}`;
  }
}

/** Checks a request's fields before any decoding: each bad one is an INVALID_ARGUMENT that names it. */
export function checkTranscriptionParams(p: TranscriptionCreateParams): TranscriptionResponseFormat {
  if (!p || typeof p !== 'object') throw new HearthError('INVALID_ARGUMENT', 'transcriptions.create takes an object with a `file`.', { hint: 'Pass { file: <audio bytes> }.' });
  if (p.file === undefined || p.file === null) throw new HearthError('INVALID_ARGUMENT', 'The transcription request has no `file`.', { hint: 'Pass the audio as a Blob/File, ArrayBuffer or Uint8Array.', details: { param: 'file' } });
  const format = p.response_format ?? 'json';
  if (!FORMATS.includes(format)) {
    throw new HearthError('INVALID_ARGUMENT', `response_format '${String(format)}' is not one of ${FORMATS.join(', ')}.`, { hint: "Use 'json' (default), 'text', 'verbose_json', 'srt' or 'vtt'.", details: { param: 'response_format' } });
  }
  if (p.temperature !== undefined && !(typeof p.temperature === 'number' && p.temperature >= 0 && p.temperature <= 1)) {
    throw new HearthError('INVALID_ARGUMENT', `temperature must be a number from 0 to 1, got ${String(p.temperature)}.`, { hint: 'Use 0 for the most likely transcript.', details: { param: 'temperature' } });
  }
  if (p.language !== undefined && (typeof p.language !== 'string' || !/^[a-zA-Z]{2,3}$/.test(p.language))) {
    throw new HearthError('INVALID_ARGUMENT', `language must be an ISO 639-1 code such as 'en', got ${JSON.stringify(p.language)}.`, { hint: 'Leave it out to let a multilingual model detect it.', details: { param: 'language' } });
  }
  if (p.prompt !== undefined && typeof p.prompt !== 'string') throw new HearthError('INVALID_ARGUMENT', 'prompt must be a string.', { hint: 'Pass the text the audio follows, or leave it out.', details: { param: 'prompt' } });
  for (const g of p.timestamp_granularities ?? []) {
    if (g === 'word') {
      throw new HearthError('INVALID_ARGUMENT', "timestamp_granularities 'word' is not supported yet: Hearth's Whisper gives segment timestamps.", { hint: "Ask for ['segment'] (verbose_json has segment timestamps).", details: { param: 'timestamp_granularities' } });
    }
    if (g !== 'segment') throw new HearthError('INVALID_ARGUMENT', `Unknown timestamp granularity ${JSON.stringify(g)}.`, { hint: "Use 'segment'.", details: { param: 'timestamp_granularities' } });
  }
  return format;
}

/**
 * Holds at most one Whisper model on a GPU context and answers transcription requests with it.
 */
export class AudioEngine implements AudioApi {
  private whisper: Whisper | null = null;
  private modelName = '';

  constructor(private readonly ctx: GpuContext) {}

  /** Loads a Whisper model folder (CTranslate2 model.bin or HF safetensors) in place of the current one. */
  async load(source: ModelSource, name: string, signal?: AbortSignal): Promise<WhisperInfo> {
    const next = await Whisper.load(this.ctx, source, signal);
    this.whisper?.unload();
    this.whisper = next;
    this.modelName = name;
    return next.info;
  }

  /** Frees the Whisper model's GPU buffers. */
  unload(): void {
    this.whisper?.unload();
    this.whisper = null;
  }

  get info(): (WhisperInfo & { name: string }) | null {
    return this.whisper ? { ...this.whisper.info, name: this.modelName } : null;
  }

  /** Compute times of the last transcription (mel, encoder, decoder), for real-time factors. */
  get lastTimings() {
    return this.whisper?.lastTimings ?? null;
  }

  readonly transcriptions = {
    create: (async (p: TranscriptionCreateParams): Promise<TranscriptionResult> => {
      const format = checkTranscriptionParams(p);
      const whisper = this.whisper;
      if (!whisper) {
        throw new HearthError('ENGINE_UNLOADED', 'No speech-to-text model is loaded.', { hint: 'Load a Whisper model first (audioModel when creating the engine, or audio.load()).' });
      }
      const audio = await decodeAudio(p.file, p.signal);
      const t = await whisper.transcribe(audio.samples, { language: p.language, prompt: p.prompt, temperature: p.temperature, onSegment: p.onSegment, signal: p.signal });
      return formatTranscript(t, format);
    }) as AudioApi['transcriptions']['create'],
  };
}
