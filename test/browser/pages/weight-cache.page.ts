// Exposes window.scenario(where, name, args): a weight-cache scenario run in this page or in a worker.
import { runScenario, type LoadArgs } from './weight-cache.scenarios.js';

type Result = Awaited<ReturnType<typeof runScenario>>;

const events: string[] = [];
let worker: Worker | null = null;
let nextId = 0;
const pending = new Map<number, (r: Result) => void>();

function getWorker(): Worker {
  if (worker) return worker;
  worker = new Worker(new URL('./weight-cache.worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (e: MessageEvent<{ id?: number; result?: Result; event?: string }>) => {
    if (e.data.event) events.push(e.data.event);
    if (e.data.id !== undefined) {
      pending.get(e.data.id)?.(e.data.result!);
      pending.delete(e.data.id);
    }
  };
  worker.onerror = (e) => {
    for (const resolve of pending.values()) resolve({ ok: false, error: { code: undefined, message: `worker error: ${e.message}` } });
    pending.clear();
  };
  return worker;
}

function scenario(where: 'page' | 'worker', name: string, args: LoadArgs & { key?: string }): Promise<Result> {
  if (where === 'page') return runScenario(name, args, (event) => events.push(event));
  const id = nextId++;
  return new Promise((resolve) => {
    pending.set(id, resolve);
    getWorker().postMessage({ id, name, args });
  });
}

Object.assign(window, { scenario, events, ready: true });
