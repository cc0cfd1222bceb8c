// engine.audio through the public API in a page, as a web developer calls it; the test drives
// these functions through page.evaluate.
import { createEngine, isHearthError, type BrowserEngine } from '../../../src/index.js';

let engine: BrowserEngine | null = null;

const errorInfo = (e: unknown) => (isHearthError(e) ? { code: e.code, message: e.message } : { code: 'UNKNOWN', message: String(e) });

/** A few seconds of a voice-like signal recorded by the browser's own MediaRecorder (WebM/Opus, as a microphone recording is). */
async function recordWebm(seconds: number): Promise<Blob> {
  const ctx = new AudioContext();
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.frequency.setValueAtTime(180, ctx.currentTime);
  osc.frequency.linearRampToValueAtTime(420, ctx.currentTime + seconds);
  gain.gain.value = 0.4;
  const dest = ctx.createMediaStreamDestination();
  osc.connect(gain).connect(dest);
  const rec = new MediaRecorder(dest.stream, { mimeType: 'audio/webm;codecs=opus' });
  const parts: Blob[] = [];
  rec.ondataavailable = (e) => parts.push(e.data);
  const done = new Promise((r) => (rec.onstop = r));
  osc.start();
  rec.start();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  rec.stop();
  osc.stop();
  await done;
  await ctx.close();
  return new Blob(parts, { type: 'audio/webm' });
}

const api = {
  async load(model: string, audioModel: string, endpoint: string) {
    try {
      engine = await createEngine({ model, audioModel, endpoint, contextLength: 256 });
      return { ok: true };
    } catch (e) {
      return { ok: false, error: errorInfo(e) };
    }
  },

  /** The WAV's bytes as a File (what an <input type="file"> gives), verbose_json, segments streamed. */
  async transcribe(bytes: number[]) {
    const file = new File([new Uint8Array(bytes)], 'speech.wav', { type: 'audio/wav' });
    const streamed: unknown[] = [];
    try {
      const r = await engine!.audio.transcriptions.create({ file, response_format: 'verbose_json', onSegment: (s) => streamed.push(s) });
      return { ok: true, result: r, streamed };
    } catch (e) {
      return { ok: false, error: errorInfo(e) };
    }
  },

  async formats(bytes: number[]) {
    const file = new Uint8Array(bytes).buffer;
    const out: Record<string, unknown> = {};
    for (const f of ['json', 'text', 'srt', 'vtt'] as const) out[f] = await engine!.audio.transcriptions.create({ file, response_format: f });
    return out;
  },

  async webm(seconds: number) {
    const blob = await recordWebm(seconds);
    try {
      const r = await engine!.audio.transcriptions.create({ file: blob, response_format: 'verbose_json' });
      return { ok: true, type: blob.type, size: blob.size, duration: (r as { duration: number }).duration };
    } catch (e) {
      return { ok: false, error: errorInfo(e) };
    }
  },

  async errors(bytes: number[]) {
    const codes: Record<string, string> = {};
    const code = (p: Promise<unknown>) => p.then(() => 'none', (e: unknown) => errorInfo(e).code);
    codes.garbage = await code(engine!.audio.transcriptions.create({ file: new Blob([new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])]) }));
    codes.format = await code(engine!.audio.transcriptions.create({ file: new Uint8Array(bytes).buffer, response_format: 'xml' as 'json' }));
    const ctrl = new AbortController();
    const p = code(engine!.audio.transcriptions.create({ file: new Uint8Array(bytes).buffer, signal: ctrl.signal }));
    setTimeout(() => ctrl.abort(), 5);
    codes.aborted = await p;
    codes.after = typeof (await engine!.audio.transcriptions.create({ file: new Uint8Array(bytes).buffer, response_format: 'text' }));
    await engine!.audio.unload();
    codes.unloaded = await code(engine!.audio.transcriptions.create({ file: new Uint8Array(bytes).buffer }));
    // the chat model is still there
    const c = await engine!.completions.create({ prompt: [1], max_tokens: 4, temperature: 0 });
    codes.chat = c.choices[0]!.text.length > 0 ? 'ok' : 'empty';
    return codes;
  },
};

(window as unknown as { hearthTest: typeof api; ready: boolean }).hearthTest = api;
(window as unknown as { ready: boolean }).ready = true;
