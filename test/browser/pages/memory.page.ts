// Memory over time in the browser (issue 16), through the public API: load/unload cycles and
// requests with random aborts on one worker whose GPU buffers are counted (memory.worker.ts), and
// engines with their own workers, whose workers must all end. The page's JS heap is read after a
// forced GC (Chromium with --js-flags=--expose-gc and --enable-precise-memory-info).
import * as Comlink from 'comlink';
import { createEngine, isHearthError } from '../../../src/index.js';

interface Counting {
  liveGpuBuffers(): { count: number; bytes: number; labels: string[] };
}

const newWorker = () => new Worker(new URL('./memory.worker.ts', import.meta.url), { type: 'module' });

async function heap(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 20));
  }
  return (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0;
}

// every Worker the page starts, and whether it was terminated
let started = 0;
let terminated = 0;
const Original = window.Worker;
class CountedWorker extends Original {
  constructor(url: string | URL, opts?: WorkerOptions) {
    super(url, opts);
    started++;
  }
  override terminate(): void {
    terminated++;
    super.terminate();
  }
}
window.Worker = CountedWorker;

let seed = 12345;
const rand = () => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed / 2 ** 32;
};

const api = {
  /** `n` load/unload cycles on one worker: its live GPU buffers after each unload, and the page heap. */
  async cycles(model: string, endpoint: string, n: number) {
    const worker = newWorker();
    const counter = Comlink.wrap<Counting>(worker);
    const buffers: number[] = [];
    const heaps: number[] = [];
    for (let i = 0; i < n; i++) {
      const engine = await createEngine({ worker, model, endpoint, contextLength: 128 });
      await engine.completions.create({ prompt: [1], max_tokens: 2, temperature: 0 });
      await engine.unload();
      buffers.push((await counter.liveGpuBuffers()).count);
      if (i === 0 || i === n - 1 || i % 10 === 9) heaps.push(await heap());
    }
    const left = (await counter.liveGpuBuffers()).labels;
    worker.terminate();
    return { buffers, heaps, left };
  },

  /** `n` requests on one engine, about 40% aborted at a random moment: live GPU buffers and heap before and after. */
  async requests(model: string, endpoint: string, n: number) {
    const worker = newWorker();
    const counter = Comlink.wrap<Counting>(worker);
    const engine = await createEngine({ worker, model, endpoint, contextLength: 128 });
    await engine.completions.create({ prompt: [1], max_tokens: 2, temperature: 0 });
    const before = { buffers: (await counter.liveGpuBuffers()).count, heap: await heap() };
    let aborted = 0;
    let completed = 0;
    const other: string[] = [];
    for (let i = 0; i < n; i++) {
      const ctrl = new AbortController();
      const abort = rand() < 0.4;
      if (abort) setTimeout(() => ctrl.abort(), Math.floor(rand() * 20));
      try {
        if (i % 2 === 0) {
          const stream = await engine.completions.create({ prompt: [1, 403], max_tokens: 6, temperature: 0.8, seed: i, stream: true }, { signal: ctrl.signal });
          for await (const c of stream) void c;
        } else {
          await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 6, temperature: 0 }, { signal: ctrl.signal });
        }
        completed++;
      } catch (e) {
        if (isHearthError(e, 'ABORTED')) aborted++;
        else other.push(String(e));
      }
    }
    const after = { buffers: (await counter.liveGpuBuffers()).count, heap: await heap() };
    await engine.unload();
    const unloaded = (await counter.liveGpuBuffers()).count;
    worker.terminate();
    return { before, after, unloaded, aborted, completed, other };
  },

  /** `n` engines, each with its own worker (the default): every worker ends with its engine. */
  async ownWorkers(model: string, endpoint: string, n: number) {
    const s0 = started;
    const t0 = terminated;
    for (let i = 0; i < n; i++) {
      const engine = await createEngine({ model, endpoint, contextLength: 128 });
      await engine.unload();
    }
    return { started: started - s0, terminated: terminated - t0, heap: await heap() };
  },
};

(window as unknown as { hearthTest: typeof api }).hearthTest = api;
(window as unknown as { ready: boolean }).ready = true;
