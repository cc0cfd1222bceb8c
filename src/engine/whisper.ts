/**
 * Speech to text with Whisper, as openai-whisper's transcribe() and decoding.py do it: log-mel of
 * the whole file (30 s of silence appended), 30 s windows from a moving `seek`, each decoded from
 * <|startoftranscript|> (+ language and task on multilingual models) with the previous window's text
 * as a prompt; the timestamp rules (paired timestamps, non-decreasing, the first one within 1 s,
 * timestamps forced when their total probability beats any text token); segments cut at timestamp
 * pairs and the next window starting at the last complete one. Greedy at temperature 0, sampling
 * above. Segments are handed out as each window finishes; an AbortSignal stops between tokens.
 */
import { logMelSpectrogram, melWindow, HOP, SAMPLE_RATE, WINDOW_FRAMES } from '../audio/mel.js';
import { HearthError } from '../errors.js';
import { mulberry32 } from '../util/rng.js';
import { openWhisper, type WhisperConfig } from '../formats/whisper.js';
import type { GpuContext } from '../gpu/device.js';
import { throwIfAborted, type ModelSource } from '../hub/byte-source.js';
import { tokenizerFromHf, type Tokenizer } from '../tokenizer/index.js';
import { WhisperModel } from '../models/whisper.js';
import { uploadWhisperWeights, type WhisperWeights } from '../models/whisper-weights.js';

/** Seconds per timestamp token, and encoder positions per timestamp step (2 mel frames each). */
const TIME_PRECISION = 0.02;
const FRAMES_PER_POSITION = 2;
/** The first timestamp may be at most 1 s into the window (decoding.py max_initial_timestamp). */
const MAX_INITIAL_TIMESTAMP_INDEX = Math.round(1.0 / TIME_PRECISION);

export interface TranscriptSegment {
  id: number;
  /** The mel frame the window started at. */
  seek: number;
  start: number;
  end: number;
  text: string;
  tokens: number[];
  temperature: number;
  avg_logprob: number;
}

export interface Transcript {
  text: string;
  language: string;
  /** Seconds of audio. */
  duration: number;
  segments: TranscriptSegment[];
}

export interface TranscribeOptions {
  /** ISO 639-1 code ('en', 'de'); multilingual models detect it when absent. */
  language?: string;
  /** Text that precedes the audio (names, spelling, style). */
  prompt?: string;
  /** 0: greedy (default). Above: sampling at that temperature. */
  temperature?: number;
  /** Translate to English instead of transcribing (multilingual models). */
  task?: 'transcribe' | 'translate';
  /** Called with each segment as soon as its window is decoded. */
  onSegment?: (s: TranscriptSegment) => void;
  signal?: AbortSignal;
  /** Seed of the sampler when temperature > 0. */
  seed?: number;
}

/** Token ids of Whisper's special tokens, found by name in tokenizer.json. */
export interface WhisperSpecials {
  eot: number;
  sot: number;
  sotPrev: number | null;
  sotLm: number | null;
  noSpeech: number | null;
  transcribe: number | null;
  translate: number | null;
  noTimestamps: number;
  timestampBegin: number;
  /** Language code -> token id (multilingual models). */
  languages: Map<string, number>;
  multilingual: boolean;
}

export function whisperSpecials(tok: Tokenizer, c: WhisperConfig): WhisperSpecials {
  const id = (s: string): number | null => tok.tokenToId(s) ?? null;
  const need = (s: string): number => {
    const v = id(s);
    if (v === null) throw new HearthError('CORRUPT_FILE', `tokenizer.json has no ${s} token.`, { hint: "Use the Whisper model's own tokenizer.json." });
    return v;
  };
  const multilingual = c.vocabSize >= 51865;
  const noTimestamps = need('<|notimestamps|>');
  const languages = new Map<string, number>();
  const sot = need('<|startoftranscript|>');
  const translate = id('<|translate|>');
  for (let i = sot + 1; i < (translate ?? sot + 101); i++) {
    const t = tok.idToToken(i);
    const m = t && /^<\|([a-z]{2,3}|haw|yue)\|>$/.exec(t);
    if (m) languages.set(m[1]!, i);
  }
  return {
    eot: need('<|endoftext|>'),
    sot,
    sotPrev: id('<|startofprev|>'),
    sotLm: id('<|startoflm|>'),
    noSpeech: id('<|nospeech|>') ?? id('<|nocaptions|>'),
    transcribe: id('<|transcribe|>'),
    translate,
    noTimestamps,
    timestampBegin: noTimestamps + 1,
    languages,
    multilingual,
  };
}

export interface WhisperInfo {
  config: WhisperConfig;
  format: 'ctranslate2' | 'safetensors';
  /** GPU bytes the weights and the working state hold. */
  memoryBytes: number;
  multilingual: boolean;
}

/** Compute time of the last transcription, for real-time factors. */
export interface TranscribeTimings {
  melMs: number;
  encodeMs: number;
  decodeMs: number;
  windows: number;
  tokens: number;
}

export class Whisper {
  readonly specials: WhisperSpecials;
  lastTimings: TranscribeTimings = { melMs: 0, encodeMs: 0, decodeMs: 0, windows: 0, tokens: 0 };
  private busy: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly info: WhisperInfo,
    readonly tokenizer: Tokenizer,
    private readonly weights: WhisperWeights,
    private readonly model: WhisperModel,
    private readonly suppress: number[],
    private readonly suppressAtBegin: number[],
  ) {
    this.specials = whisperSpecials(tokenizer, info.config);
  }

  /** Loads a Whisper model folder (CTranslate2 model.bin or HF safetensors, with tokenizer.json) onto `ctx`. */
  static async load(ctx: GpuContext, source: ModelSource, signal?: AbortSignal): Promise<Whisper> {
    const files = await openWhisper(source, signal);
    const tokenizer = tokenizerFromHf({ tokenizerJson: files.tokenizerJson });
    const weights = await uploadWhisperWeights(ctx, files, signal);
    let model: WhisperModel | null = null;
    try {
      model = new WhisperModel(ctx, weights);
      const info: WhisperInfo = { config: files.config, format: files.format, memoryBytes: weights.bytes + model.stateBytes, multilingual: files.config.vocabSize >= 51865 };
      const w = new Whisper(info, tokenizer, weights, model, files.suppressIds, files.suppressAtBegin);
      await ctx.device.queue.onSubmittedWorkDone();
      return w;
    } catch (e) {
      model?.destroy();
      weights.destroy();
      throw e;
    }
  }

  /** Frees the model's GPU buffers (weights and state). */
  unload(): void {
    this.model.destroy();
    this.weights.destroy();
  }

  /** Transcribes 16 kHz mono samples; one transcription at a time (later calls wait). */
  transcribe(samples: Float32Array, opts: TranscribeOptions = {}): Promise<Transcript> {
    const run = this.busy.then(() => this.run(samples, opts));
    this.busy = run.catch(() => undefined);
    return run;
  }

  private async run(samples: Float32Array, opts: TranscribeOptions): Promise<Transcript> {
    const { signal } = opts;
    const sp = this.specials;
    const c = this.info.config;
    const temperature = opts.temperature ?? 0;
    if (!(temperature >= 0 && temperature <= 2)) {
      throw new HearthError('INVALID_ARGUMENT', `temperature must be between 0 and 2, got ${opts.temperature}.`, { hint: 'Use 0 for the most likely transcript.' });
    }
    const t0 = performance.now();
    const mel = logMelSpectrogram(samples, c.nMels, signal);
    const timings: TranscribeTimings = { melMs: performance.now() - t0, encodeMs: 0, decodeMs: 0, windows: 0, tokens: 0 };
    this.lastTimings = timings;
    const rand = mulberry32(opts.seed ?? 0);

    let language = 'en';
    let languageToken: number | null = null;
    if (sp.multilingual) {
      if (opts.language !== undefined) {
        const code = opts.language.toLowerCase();
        languageToken = sp.languages.get(code) ?? null;
        if (languageToken === null) {
          throw new HearthError('INVALID_ARGUMENT', `Whisper does not know the language '${opts.language}'.`, { hint: `Use an ISO 639-1 code such as ${[...sp.languages.keys()].slice(0, 8).join(', ')}.` });
        }
        language = code;
      }
    } else if (opts.language !== undefined && opts.language.toLowerCase() !== 'en') {
      throw new HearthError('INVALID_ARGUMENT', `This Whisper model is English-only (.en); it cannot transcribe '${opts.language}'.`, { hint: 'Leave language unset or use a multilingual Whisper model.' });
    }
    if (opts.task === 'translate' && !sp.multilingual) {
      throw new HearthError('INVALID_ARGUMENT', 'An English-only Whisper model cannot translate.', { hint: 'Use a multilingual Whisper model to translate.' });
    }

    const promptLimit = Math.floor(c.nTextCtx / 2) - 1;
    let history: number[] = opts.prompt ? this.tokenizer.encode(` ${opts.prompt.trim()}`, { addSpecialTokens: false }).filter((t) => t < sp.eot) : [];
    const segments: TranscriptSegment[] = [];
    const duration = samples.length / SAMPLE_RATE;
    const frameSeconds = HOP / SAMPLE_RATE;
    // 30 s (1500 encoder positions) in every real Whisper; smaller test models have shorter windows
    const windowFrames = Math.min(WINDOW_FRAMES, FRAMES_PER_POSITION * c.nAudioCtx);
    let seek = 0;
    while (seek < mel.contentFrames) {
      throwIfAborted(signal);
      const timeOffset = seek * frameSeconds;
      const segmentFrames = Math.min(windowFrames, mel.contentFrames - seek);
      let te = performance.now();
      await this.model.encode(melWindow(mel, seek, windowFrames));
      timings.encodeMs += performance.now() - te;
      timings.windows++;

      if (sp.multilingual && languageToken === null) {
        const logits = await this.model.decode([sp.sot], 0);
        let best = -Infinity;
        for (const [code, id] of sp.languages) {
          if (logits[id]! > best) {
            best = logits[id]!;
            languageToken = id;
            language = code;
          }
        }
      }
      const sotSequence = [sp.sot];
      if (sp.multilingual) sotSequence.push(languageToken!, (opts.task === 'translate' ? sp.translate : sp.transcribe)!);
      const prompt = history.slice(-promptLimit);
      const initial = prompt.length > 0 && sp.sotPrev !== null ? [sp.sotPrev, ...prompt, ...sotSequence] : sotSequence;

      te = performance.now();
      const { tokens, avgLogprob } = await this.decodeWindow(initial, temperature, rand, windowFrames, signal);
      timings.decodeMs += performance.now() - te;
      timings.tokens += tokens.length;

      // cut the window's tokens into segments at timestamp pairs (transcribe.py)
      const isTs = tokens.map((t) => t >= sp.timestampBegin);
      const singleEnding = isTs.length >= 2 && !isTs[isTs.length - 2] && isTs[isTs.length - 1]!;
      const cuts: number[] = [];
      for (let i = 1; i < tokens.length; i++) if (isTs[i] && isTs[i - 1]) cuts.push(i);
      // the next window's prompt: the tokens of the segments handed out (transcribe.py's and
      // faster-whisper's all_tokens), not an unfinished last segment the next window decodes again
      const kept: number[] = [];
      const emit = (start: number, end: number, toks: number[]): void => {
        const text = this.tokenizer.decode(toks.filter((t) => t < sp.eot));
        if (!text.trim()) return;
        kept.push(...toks);
        // a segment ends with the audio, not in the last window's padding
        const s: TranscriptSegment = { id: segments.length, seek, start: round2(Math.min(start, duration)), end: round2(Math.min(end, duration)), text, tokens: toks, temperature, avg_logprob: avgLogprob };
        segments.push(s);
        opts.onSegment?.(s);
      };
      const tsTime = (t: number): number => (t - sp.timestampBegin) * TIME_PRECISION;
      if (cuts.length > 0) {
        if (singleEnding) cuts.push(tokens.length);
        let last = 0;
        for (const cut of cuts) {
          const sliced = tokens.slice(last, cut);
          emit(timeOffset + tsTime(sliced[0]!), timeOffset + tsTime(sliced[sliced.length - 1]!), sliced);
          last = cut;
        }
        const advance = singleEnding ? segmentFrames : (tokens[last - 1]! - sp.timestampBegin) * FRAMES_PER_POSITION;
        seek += advance > 0 ? advance : segmentFrames;
      } else {
        let span = segmentFrames * frameSeconds;
        const stamps = tokens.filter((t) => t >= sp.timestampBegin);
        if (stamps.length > 0 && stamps[stamps.length - 1] !== sp.timestampBegin) span = tsTime(stamps[stamps.length - 1]!);
        emit(timeOffset, timeOffset + span, tokens);
        seek += segmentFrames;
      }
      // the next window's prompt (reset after sampling hot, as transcribe.py does above 0.5)
      history = temperature > 0.5 ? [] : [...history, ...kept];
    }
    return { text: segments.map((s) => s.text).join(''), language, duration, segments };
  }

  /** One window: the initial tokens, then greedy/sampled tokens under Whisper's logit rules until <|endoftext|>. */
  private async decodeWindow(initial: number[], temperature: number, rand: () => number, windowFrames: number, signal?: AbortSignal): Promise<{ tokens: number[]; avgLogprob: number }> {
    const sp = this.specials;
    const c = this.info.config;
    const sampleLen = Math.floor(c.nTextCtx / 2);
    // the last timestamp a window can hold (<|30.00|> in every real Whisper)
    const lastTimestamp = sp.timestampBegin + Math.round((windowFrames * HOP) / SAMPLE_RATE / TIME_PRECISION);
    const tokens: number[] = [];
    let logits = await this.model.decode(initial, 0);
    let pos = initial.length;
    let sumLogprob = 0;
    for (let i = 0; i < sampleLen && pos < c.nTextCtx; i++) {
      throwIfAborted(signal);
      this.applyRules(logits, tokens, lastTimestamp);
      const logprobs = logSoftmax(logits);
      const next = temperature > 0 ? sample(logits, temperature, rand) : argmax(logits);
      if (next === sp.eot) {
        sumLogprob += logprobs[next]!;
        break;
      }
      sumLogprob += logprobs[next]!;
      tokens.push(next);
      logits = await this.model.decode([next], pos++);
    }
    return { tokens, avgLogprob: sumLogprob / (tokens.length + 1) };
  }

  /** SuppressBlank, SuppressTokens and ApplyTimestampRules of decoding.py, in place. */
  private applyRules(logits: Float32Array, tokens: number[], lastTimestamp: number): void {
    const sp = this.specials;
    const NEG = -Infinity;
    const vocab = logits.length;
    if (tokens.length === 0) for (const t of this.suppressAtBegin.length ? this.suppressAtBegin : [sp.eot]) if (t < vocab) logits[t] = NEG;
    for (const t of this.suppress) if (t < vocab) logits[t] = NEG;
    for (const t of [sp.transcribe, sp.translate, sp.sot, sp.sotPrev, sp.sotLm, sp.noSpeech, sp.noTimestamps]) if (t !== null && t < vocab) logits[t] = NEG;
    const tb = sp.timestampBegin;
    if (lastTimestamp + 1 < vocab) logits.fill(NEG, lastTimestamp + 1); // past the window's end
    const n = tokens.length;
    const lastTs = n >= 1 && tokens[n - 1]! >= tb;
    const penultimateTs = n < 2 || tokens[n - 2]! >= tb;
    if (lastTs) {
      if (penultimateTs) logits.fill(NEG, tb); // a pair closed: text (or eot) next
      else logits.fill(NEG, 0, sp.eot); // an open timestamp: another timestamp or eot next
    }
    const stamps = tokens.filter((t) => t >= tb);
    if (stamps.length > 0) {
      // timestamps never go back; after a closing one, the next starts at least one step later
      const floor = lastTs && !penultimateTs ? stamps[stamps.length - 1]! : stamps[stamps.length - 1]! + 1;
      logits.fill(NEG, tb, Math.min(floor, vocab));
    }
    if (n === 0) {
      logits.fill(NEG, 0, tb); // a window starts with a timestamp, within the first second
      logits.fill(NEG, Math.min(vocab, tb + MAX_INITIAL_TIMESTAMP_INDEX + 1));
    }
    // when the timestamps together are likelier than any one text token, take a timestamp
    const lp = logSoftmax(logits);
    let tsMass = -Infinity;
    for (let i = tb; i < vocab; i++) tsMass = logAddExp(tsMass, lp[i]!);
    let textMax = -Infinity;
    for (let i = 0; i < tb; i++) if (lp[i]! > textMax) textMax = lp[i]!;
    if (tsMass > textMax) logits.fill(NEG, 0, tb);
  }
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

function logSoftmax(x: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of x) if (v > max) max = v;
  let sum = 0;
  for (const v of x) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(x, (v) => v - lse);
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

function sample(logits: Float32Array, temperature: number, rand: () => number): number {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  const p = Float64Array.from(logits, (v) => Math.exp((v - max) / temperature));
  let total = 0;
  for (const v of p) total += v;
  let r = rand() * total;
  for (let i = 0; i < p.length; i++) {
    r -= p[i]!;
    if (r <= 0 && p[i]! > 0) return i;
  }
  return argmax(logits);
}
