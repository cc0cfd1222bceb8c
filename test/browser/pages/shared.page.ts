// One tab of the shared-engine test: createEngine({ shared: true }) through the public API; the
// test opens two of these pages and calls these functions through page.evaluate.
import * as Comlink from 'comlink';
import { createEngine, isHearthError, type BrowserEngine } from '../../../src/index.js';
import type { TabHost } from '../../../src/worker/shared.js';

let engine: BrowserEngine | null = null;

const errorInfo = (e: unknown) => (isHearthError(e) ? { code: e.code, message: e.message } : { code: 'UNKNOWN', message: String(e) });

const api = {
  async load(model: string, endpoint: string) {
    const phases = new Set<string>();
    engine = await createEngine({ model, endpoint, contextLength: 256, shared: true, onProgress: (p) => phases.add(p.phase) });
    return { phases: [...phases], shared: engine.sharedWorker !== null, memoryBytes: engine.info.memoryBytes };
  },

  /** How the SharedWorker's engine is used: models loaded, tabs using it, requests running and queued. */
  async stats() {
    return Comlink.wrap<TabHost>(engine!.sharedWorker!.port).sharedStats();
  },

  async stream(maxTokens: number, abortAfter = 0) {
    const ctrl = new AbortController();
    const stream = await engine!.completions.create({ prompt: [1], max_tokens: maxTokens, temperature: 0, stream: true, ignore_eos: abortAfter > 0 }, { signal: ctrl.signal });
    let text = '';
    let chunks = 0;
    try {
      for await (const c of stream) {
        text += c.choices[0]!.text;
        if (++chunks === abortAfter) ctrl.abort();
      }
      return { text, chunks, error: null };
    } catch (e) {
      return { text, chunks, error: errorInfo(e) };
    }
  },

  async unload() {
    await engine!.unload();
  },
};

(window as unknown as { hearthTest: typeof api; ready: boolean }).hearthTest = api;
(window as unknown as { ready: boolean }).ready = true;
