// A web developer's page: installs hearth from npm, loads the model named in ?model=, and
// streams a greedy completion. The test drives it through window.consumer.
import { createEngine, isHearthError, type BrowserEngine, type LoadProgress } from 'hearth';
// For apps that start the worker themselves (?own-worker): Vite's worker import of hearth's entry.
import HearthWorker from 'hearth/worker?worker';

const out = document.querySelector<HTMLPreElement>('#out')!;
let engine: BrowserEngine | null = null;
let ownWorker: Worker | undefined;

function describeError(e: unknown): { code: string; message: string } {
  return isHearthError(e) ? { code: e.code, message: e.message } : { code: 'UNKNOWN', message: String(e) };
}

async function load(): Promise<{ ok: true; contextLength: number; phases: LoadProgress['phase'][] } | { ok: false; error: { code: string; message: string } }> {
  const params = new URLSearchParams(location.search);
  const model = params.get('model');
  if (!model) return { ok: false, error: { code: 'NO_MODEL', message: 'Add ?model=<url of a .gguf> to the page address.' } };
  const phases = new Set<LoadProgress['phase']>();
  try {
    ownWorker = params.has('own-worker') ? new HearthWorker({ name: 'my-hearth' }) : undefined;
    engine = await createEngine({ model: new URL(model, location.href).href, contextLength: 256, worker: ownWorker, onProgress: (p) => phases.add(p.phase) });
    out.textContent = `loaded ${engine.info.model}\n`;
    return { ok: true, contextLength: engine.info.contextLength, phases: [...phases] };
  } catch (e) {
    return { ok: false, error: describeError(e) };
  }
}

/** A greedy completion from BOS alone, streamed chunk by chunk. */
async function complete(maxTokens: number): Promise<{ text: string; ids: number[]; chunks: number }> {
  const stream = await engine!.completions.create({ prompt: [1], max_tokens: maxTokens, temperature: 0, stream: true });
  let text = '';
  let ids: number[] = [];
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    text += chunk.choices[0]?.text ?? '';
    if (chunk.hearth) ids = chunk.hearth.ids;
    out.textContent += chunk.choices[0]?.text ?? '';
  }
  return { text, ids, chunks };
}

/** A chat turn, streamed, as most apps would use it. */
async function chat(content: string, maxTokens: number): Promise<{ content: string; finishReason: string | null }> {
  const stream = await engine!.chat.completions.create({ messages: [{ role: 'user', content }], max_tokens: maxTokens, temperature: 0, stream: true });
  let text = '';
  let finishReason: string | null = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? '';
    finishReason = chunk.choices[0]?.finish_reason ?? finishReason;
  }
  return { content: text, finishReason };
}

async function unload(): Promise<number> {
  await engine?.unload();
  // hearth ends only the workers it started
  ownWorker?.terminate();
  return engine?.info.memoryBytes ?? 0;
}

Object.assign(window, { consumer: { load, complete, chat, unload } });
