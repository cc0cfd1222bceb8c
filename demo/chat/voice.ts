/**
 * The composer's microphone: record, transcribe on this device with a Whisper model, and put the
 * text into the message box at the cursor for the user to edit and send (it is never sent here).
 *
 * Capture is raw PCM through an AudioWorklet rather than MediaRecorder: the samples go to Whisper
 * as they are (no Opus/AAC round trip and no decode step, the same in every browser, whatever
 * container MediaRecorder would pick), and the same samples drive the level meter and the
 * silence check. The speech model loads into the chat engine's worker on first use, from the
 * demo's own server when it serves one, else from the Hugging Face Hub (then cached).
 */
import type { BrowserEngine, LoadProgress } from '../../src/index.js';
import { isHearthError } from '../../src/index.js';
import { h } from '../shared/dom.js';
import { toProblem, type Problem } from './errors.js';
import { formatBytes } from './format.js';
import { isSpeechModel, localModelUrl, type LocalModel } from './models.js';

/** What a real user of the hosted demo gets: Whisper tiny.en as faster-whisper ships it (75 MB). */
export const DEFAULT_SPEECH_MODEL = 'Systran/faster-whisper-tiny.en';

/** The demo's own failures, typed like the engine's: a code, what happened, what to do. */
export type VoiceErrorCode = 'MIC_PERMISSION_DENIED' | 'MIC_NOT_FOUND' | 'MIC_UNAVAILABLE' | 'SILENT_RECORDING' | 'NO_SPEECH' | 'SPEECH_MODEL_LOAD';

export class VoiceError extends Error {
  constructor(
    readonly code: VoiceErrorCode,
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'VoiceError';
  }

  get problem(): Problem {
    return { code: this.code, message: this.message, hint: this.hint };
  }
}

/** Which model to load: the setting, or (automatic) the demo's served Whisper, or the Hub's tiny.en. */
export function speechModelSpec(setting: string, local: LocalModel[]): { model: string; title: string; local: boolean } {
  if (setting) return { model: setting, title: setting.split('/').pop()!, local: false };
  const served = local.find(isSpeechModel);
  if (served) return { model: localModelUrl(served), title: served.name, local: true };
  return { model: DEFAULT_SPEECH_MODEL, title: 'faster-whisper-tiny.en', local: false };
}

/**
 * What to put between `start` and `end` of `value` for a transcript `text`: the text with a space
 * before it when it would touch a word on the left, and after it when it would touch one on the right.
 */
export function spliceTranscript(value: string, start: number, end: number, text: string): { piece: string; end: number; value: string } {
  const lo = Math.max(0, Math.min(start, value.length));
  const hi = Math.max(lo, Math.min(end, value.length));
  const before = value.slice(0, lo);
  const after = value.slice(hi);
  const piece = `${before && !/\s$/.test(before) ? ' ' : ''}${text}${after && !/^\s/.test(after) ? ' ' : ''}`;
  return { piece, end: hi, value: before + piece + after };
}

/** getUserMedia's DOMExceptions as the user should read them. */
export function micError(e: unknown): VoiceError {
  const name = e instanceof DOMException || e instanceof Error ? e.name : '';
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') {
    return new VoiceError('MIC_PERMISSION_DENIED', 'The browser did not allow this page to use the microphone.', 'Allow the microphone for this site (the icon at the left of the address bar), then press the microphone button again.');
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'DevicesNotFoundError') {
    return new VoiceError('MIC_NOT_FOUND', 'No microphone was found.', 'Plug in or turn on a microphone (and check that the system lets the browser use it), then try again.');
  }
  if (name === 'NotReadableError' || name === 'AbortError' || name === 'TrackStartError') {
    return new VoiceError('MIC_UNAVAILABLE', 'The microphone is there but could not be started (another app may be using it).', 'Close other apps or tabs that use the microphone, then try again.');
  }
  if (typeof navigator === 'undefined' || !navigator.mediaDevices?.getUserMedia) {
    return new VoiceError('MIC_UNAVAILABLE', 'This browser does not offer microphone access on this page.', 'Open the demo over https or at http://localhost, in a current browser.');
  }
  return new VoiceError('MIC_UNAVAILABLE', `The microphone could not be started (${e instanceof Error ? e.message : String(e)}).`, 'Try again, or reload the page.');
}

/** Peak below this (about -46 dBFS) over the whole recording is silence. */
const SILENCE_PEAK = 0.005;
/** Recordings stop by themselves after this long. */
export const MAX_SECONDS = 120;

/** Copies the microphone's samples out of the audio thread, 4096 at a time. */
const WORKLET = `
class HearthCapture extends AudioWorkletProcessor {
  constructor() { super(); this.buf = new Float32Array(4096); this.n = 0; this.port.onmessage = () => { this.flush(); this.port.postMessage(null); }; }
  flush() { if (this.n) { this.port.postMessage(this.buf.slice(0, this.n)); this.n = 0; } }
  process(inputs) {
    const ch = inputs[0];
    if (ch && ch.length) {
      const frames = ch[0].length;
      for (let i = 0; i < frames; i++) {
        let s = 0;
        for (let c = 0; c < ch.length; c++) s += ch[c][i];
        this.buf[this.n++] = s / ch.length;
        if (this.n === this.buf.length) this.flush();
      }
    }
    return true;
  }
}
registerProcessor('hearth-capture', HearthCapture);
`;

interface Recording {
  stream: MediaStream;
  audio: AudioContext;
  node: AudioWorkletNode;
  chunks: Float32Array[];
  started: number;
  peak: number;
  timer: number;
}

export type VoiceState = 'idle' | 'starting' | 'recording' | 'loading' | 'transcribing';

export interface VoiceElements {
  button: HTMLButtonElement;
  status: HTMLElement;
  input: HTMLTextAreaElement;
}

export interface VoiceDeps {
  engine(): BrowserEngine | null;
  /** The Settings choice ('' = automatic). */
  setting(): string;
  local(): Promise<LocalModel[]>;
  problem(p: Problem): void;
  clearProblems(): void;
  /** The speech model is loaded (and now in the weight cache). */
  modelLoaded(): void;
}

export class Voice {
  private state: VoiceState = 'idle';
  private rec: Recording | null = null;
  /** The engine and model spec the speech model is loaded for. */
  private loaded: { engine: BrowserEngine; model: string } | null = null;
  private loading: { engine: BrowserEngine; model: string; promise: Promise<void> } | null = null;
  private abort: AbortController | null = null;

  constructor(
    private readonly els: VoiceElements,
    private readonly deps: VoiceDeps,
  ) {
    els.button.addEventListener('click', () => void this.toggle());
    this.render();
  }

  get recording(): boolean {
    return this.state === 'recording' || this.state === 'starting';
  }

  get busy(): boolean {
    return this.state !== 'idle';
  }

  /** The chat engine changed (or went away): the speech model went with its worker. */
  setEngine(engine: BrowserEngine | null): void {
    if (this.loaded && this.loaded.engine !== engine) this.loaded = null;
    if (!engine) this.cancel();
    this.render();
  }

  /** Ends a recording without transcribing it, or stops a transcription (the text box is left as it is). */
  cancel(): void {
    if (this.abort) {
      this.abort.abort();
      this.set('idle', 'Transcription stopped.');
    }
    if (this.rec) this.release(this.rec);
    this.rec = null;
    if (this.state === 'recording' || this.state === 'starting') this.set('idle');
  }

  async toggle(): Promise<void> {
    if (this.state === 'recording') return this.stop();
    if (this.state === 'idle') return this.start();
  }

  private async start(): Promise<void> {
    if (!this.deps.engine()) return;
    this.deps.clearProblems();
    this.set('starting');
    let stream: MediaStream;
    try {
      if (!navigator.mediaDevices?.getUserMedia) throw micError(null);
      stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } });
    } catch (e) {
      this.set('idle');
      this.deps.problem((e instanceof VoiceError ? e : micError(e)).problem);
      return;
    }
    try {
      const audio = new AudioContext();
      const url = URL.createObjectURL(new Blob([WORKLET], { type: 'text/javascript' }));
      try {
        await audio.audioWorklet.addModule(url);
      } finally {
        URL.revokeObjectURL(url);
      }
      const source = audio.createMediaStreamSource(stream);
      const node = new AudioWorkletNode(audio, 'hearth-capture', { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1] });
      // a muted path to the output keeps the graph pulled in every browser
      const mute = audio.createGain();
      mute.gain.value = 0;
      source.connect(node).connect(mute).connect(audio.destination);
      const rec: Recording = { stream, audio, node, chunks: [], started: performance.now(), peak: 0, timer: 0 };
      node.port.onmessage = (e: MessageEvent<Float32Array | null>) => {
        if (!e.data) return;
        rec.chunks.push(e.data);
        for (const s of e.data) rec.peak = Math.max(rec.peak, Math.abs(s));
      };
      rec.timer = window.setInterval(() => {
        this.render();
        if (performance.now() - rec.started >= MAX_SECONDS * 1000) void this.stop();
      }, 250);
      await audio.resume();
      // the track can end by itself (device unplugged, permission revoked): keep what was heard
      for (const t of stream.getAudioTracks()) t.addEventListener('ended', () => this.state === 'recording' && void this.stop());
      this.rec = rec;
      this.set('recording');
    } catch (e) {
      for (const t of stream.getTracks()) t.stop();
      this.set('idle');
      this.deps.problem(micError(e).problem);
    }
  }

  private async stop(): Promise<void> {
    const rec = this.rec;
    if (!rec || this.state !== 'recording') return;
    this.rec = null;
    // ask the worklet for what it still holds, then let go of the microphone
    await new Promise<void>((done) => {
      const t = setTimeout(done, 300);
      rec.node.port.onmessage = (e: MessageEvent<Float32Array | null>) => {
        if (e.data) rec.chunks.push(e.data);
        else {
          clearTimeout(t);
          done();
        }
      };
      rec.node.port.postMessage('flush');
    });
    this.release(rec);
    const length = rec.chunks.reduce((n, c) => n + c.length, 0);
    const samples = new Float32Array(length);
    let at = 0;
    for (const c of rec.chunks) {
      samples.set(c, at);
      at += c.length;
    }
    for (const c of rec.chunks) for (const s of c) rec.peak = Math.max(rec.peak, Math.abs(s));
    const seconds = length / rec.audio.sampleRate;
    if (seconds < 0.3 || rec.peak < SILENCE_PEAK) {
      this.set('idle');
      this.deps.problem(
        new VoiceError(
          'SILENT_RECORDING',
          seconds < 0.3 ? 'The recording was too short to hold any speech.' : `The recording (${seconds.toFixed(1)} s) was silent: the microphone picked up no sound.`,
          'Check that the right microphone is chosen and not muted, then record again while you speak.',
        ).problem,
      );
      return;
    }
    await this.transcribe({ samples, sampleRate: rec.audio.sampleRate });
  }

  private release(rec: Recording): void {
    clearInterval(rec.timer);
    for (const t of rec.stream.getTracks()) t.stop();
    rec.node.port.onmessage = null;
    void rec.audio.close().catch(() => undefined);
  }

  /**
   * Loads the chosen speech model into `engine`'s worker unless it is there. A load keeps going
   * when the user stops waiting for it (Escape), and a later recording waits for it rather than
   * starting a second one.
   */
  private async ensureModel(engine: BrowserEngine, signal: AbortSignal): Promise<void> {
    const spec = speechModelSpec(this.deps.setting(), await this.deps.local());
    if (this.loaded?.engine === engine && this.loaded.model === spec.model) return;
    this.set('loading', `Loading the speech model (${spec.title})…`);
    if (!(this.loading?.engine === engine && this.loading.model === spec.model)) {
      const promise = this.load(engine, spec);
      const loading = { engine, model: spec.model, promise };
      this.loading = loading;
      void promise.catch(() => undefined).finally(() => {
        if (this.loading === loading) this.loading = null;
      });
    }
    await this.loading!.promise;
    if (signal.aborted) throw new DOMException('Stopped.', 'AbortError');
  }

  private async load(engine: BrowserEngine, spec: ReturnType<typeof speechModelSpec>): Promise<void> {
    const files = new Map<string, { loaded: number; total: number }>();
    const onProgress = (p: LoadProgress) => {
      files.set(p.file ?? '', { loaded: p.loaded, total: p.total });
      if (this.state !== 'loading') return;
      let loaded = 0;
      let total = 0;
      for (const f of files.values()) {
        loaded += f.loaded;
        total += f.total;
      }
      const what = p.phase === 'cache' ? 'from the browser cache' : spec.local ? 'served by this demo' : 'from the Hugging Face Hub';
      this.setText(`Loading the speech model (${spec.title}) ${what}: ${formatBytes(loaded)}${total ? ` of ${formatBytes(total)}` : ''}…`, total ? loaded / total : undefined);
    };
    try {
      if (this.loaded) await engine.audio.unload().catch(() => undefined);
      this.loaded = null;
      await engine.audio.load(spec.model, { onProgress });
      this.loaded = { engine, model: spec.model };
      this.deps.modelLoaded();
    } catch (e) {
      const p = toProblem(e);
      throw new VoiceError(
        'SPEECH_MODEL_LOAD',
        `The speech model ${spec.title} could not be loaded (${p.code}: ${p.message.replace(/\.$/, '')}).`,
        `${p.hint ?? `The first use downloads it from ${spec.local ? 'this demo' : 'the Hugging Face Hub'}: check the connection, then try again.`} Or choose another speech model in Settings. Your text is untouched.`,
      );
    }
  }

  private async transcribe(pcm: { samples: Float32Array; sampleRate: number }): Promise<void> {
    const engine = this.deps.engine();
    if (!engine) return this.set('idle');
    const abort = (this.abort = new AbortController());
    try {
      await this.ensureModel(engine, abort.signal);
      this.set('transcribing');
      const seconds = pcm.samples.length / pcm.sampleRate;
      const t0 = performance.now();
      const tick = window.setInterval(() => this.setText(`Transcribing ${seconds.toFixed(1)} s of speech on this device… ${((performance.now() - t0) / 1000).toFixed(0)} s`), 500);
      let text: string;
      try {
        text = (await engine.audio.transcriptions.create({ file: pcm, response_format: 'text', signal: abort.signal })) as string;
      } finally {
        clearInterval(tick);
      }
      text = text.replace(/\s+/g, ' ').trim();
      if (!text || /^\[?(blank_audio|silence|no speech)\]?$/i.test(text)) {
        throw new VoiceError('NO_SPEECH', `No words were heard in the recording (${seconds.toFixed(1)} s).`, 'Speak closer to the microphone, then try again.');
      }
      this.insert(text);
      this.set('idle', `Transcribed ${seconds.toFixed(1)} s on this device in ${((performance.now() - t0) / 1000).toFixed(1)} s. Edit the text, then send it.`);
    } catch (e) {
      if (abort.signal.aborted) return;
      this.set('idle');
      if (e instanceof VoiceError) this.deps.problem(e.problem);
      else if (isHearthError(e)) this.deps.problem({ code: e.code, message: `The transcription failed: ${e.message}`, hint: 'Try again; if it keeps failing, reload the page.' });
      else this.deps.problem({ code: 'ERROR', message: `The transcription failed: ${e instanceof Error ? e.message : String(e)}`, hint: 'Try again, or reload the page.' });
    } finally {
      if (this.abort === abort) this.abort = null;
    }
  }

  /** Puts `text` at the cursor (replacing a selection), with a space on either side where needed. */
  private insert(text: string): void {
    const el = this.els.input;
    const start = el.selectionStart ?? el.value.length;
    const { piece, end } = spliceTranscript(el.value, start, el.selectionEnd ?? start, text);
    el.focus();
    el.setRangeText(piece, start, end, 'end');
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }

  private set(state: VoiceState, text?: string): void {
    this.state = state;
    this.render(text);
  }

  private setText(text: string, fraction?: number): void {
    const s = this.els.status;
    s.hidden = false;
    s.replaceChildren(h('span', { class: 'voice-text' }, text));
    if (fraction !== undefined)
      s.append(
        h('span', { class: 'voice-bar', role: 'progressbar', 'aria-label': 'Speech model download', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': Math.round(fraction * 100) }, h('span', { class: 'voice-bar-fill', style: `width: ${(fraction * 100).toFixed(1)}%` })),
      );
  }

  private render(text?: string): void {
    const { button, status } = this.els;
    const st = this.state;
    const hasEngine = !!this.deps.engine();
    button.dataset.state = st;
    document.body.dataset.voice = st;
    button.disabled = !hasEngine || st === 'starting' || st === 'loading' || st === 'transcribing';
    button.setAttribute('aria-pressed', String(st === 'recording'));
    const label = st === 'recording' ? 'Stop recording and transcribe' : 'Record a voice message (transcribed on this device)';
    button.setAttribute('aria-label', label);
    button.title = st === 'recording' ? 'Stop recording (Esc)' : 'Speak instead of typing: transcribed on this device, nothing is sent';
    if (st === 'recording' && this.rec) {
      const secs = Math.floor((performance.now() - this.rec.started) / 1000);
      const elapsed = `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, '0')}`;
      status.hidden = false;
      status.replaceChildren(
        h('span', { class: 'voice-dot', 'aria-hidden': 'true' }),
        h('span', { class: 'voice-text' }, 'Recording ', h('span', { class: 'voice-elapsed' }, elapsed), ' · press the microphone or Esc to stop'),
      );
      return;
    }
    if (st === 'starting') return this.setText('Starting the microphone…');
    if (st === 'transcribing') return this.setText('Transcribing on this device…');
    if (text) return this.setText(text);
    if (st === 'idle') {
      status.hidden = true;
      status.replaceChildren();
    }
  }
}
