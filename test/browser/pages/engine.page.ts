// Drives the public API (src/index.ts) exactly as a web developer would; the test calls these
// functions through page.evaluate.
import { createEngine, isHearthError, listCachedModels, type BrowserEngine } from '../../../src/index.js';

let engine: BrowserEngine | null = null;
const longTasks: number[] = [];
new PerformanceObserver((l) => l.getEntries().forEach((e) => longTasks.push(e.duration))).observe({ type: 'longtask', buffered: true });

function errorInfo(e: unknown) {
  return isHearthError(e) ? { code: e.code, message: e.message, isHearth: true } : { code: 'UNKNOWN', message: String(e), isHearth: false };
}

const api = {
  async load(model: string, endpoint: string) {
    const phases = new Set<string>();
    try {
      engine = await createEngine({ model, endpoint, contextLength: 256, onProgress: (p) => phases.add(p.phase) });
      return { ok: true, info: engine.info, phases: [...phases] };
    } catch (e) {
      return { ok: false, error: errorInfo(e), phases: [...phases] };
    }
  },

  async stream(maxTokens: number) {
    const stream = await engine!.completions.create({ prompt: [1], max_tokens: maxTokens, temperature: 0, stream: true });
    let text = '';
    let ids: number[] = [];
    let chunks = 0;
    longTasks.length = 0;
    const t0 = performance.now();
    // a timer ticking during generation measures how responsive the main thread stays
    let maxGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 10);
    for await (const c of stream) {
      chunks++;
      text += c.choices[0]!.text;
      if (c.hearth) ids = c.hearth.ids;
    }
    clearInterval(timer);
    await new Promise((r) => setTimeout(r, 50));
    return { text, ids, chunks, ms: performance.now() - t0, longestTask: Math.max(0, ...longTasks), maxTimerGap: maxGap };
  },

  async abortMidStream() {
    const ctrl = new AbortController();
    const stream = await engine!.completions.create({ prompt: [1], max_tokens: 200, temperature: 0, stream: true, ignore_eos: true }, { signal: ctrl.signal });
    let chunks = 0;
    try {
      for await (const _ of stream) if (++chunks === 4) ctrl.abort();
      return { aborted: false, chunks };
    } catch (e) {
      return { aborted: true, chunks, error: errorInfo(e) };
    }
  },

  async chat(content: string) {
    const r = await engine!.chat.completions.create({ messages: [{ role: 'user', content }], max_tokens: 16, temperature: 0 });
    return { content: r.choices[0]!.message.content, usage: r.usage };
  },

  async tokenize(text: string) {
    return engine!.tokenizer.encode(text);
  },

  async crashWorker() {
    // a pending request, then the worker reports a fatal error: the request must reject, not hang
    const p = engine!.completions.create({ prompt: [1], max_tokens: 500, temperature: 0, ignore_eos: true });
    engine!.worker.dispatchEvent(new ErrorEvent('error', { message: 'simulated crash' }));
    try {
      await p;
      return { rejected: false };
    } catch (e) {
      return { rejected: true, error: errorInfo(e) };
    }
  },

  async unload() {
    const before = engine!.info.memoryBytes;
    await engine!.unload();
    return { before, after: engine!.info.memoryBytes };
  },

  async cached() {
    return listCachedModels();
  },
};

Object.assign(window, { hearthTest: api, ready: true });
