// Drives engine.sessions through the public API (src/index.ts) as an app would; the test calls
// these functions through page.evaluate.
import { createEngine, isHearthError, openSessions, type BrowserEngine, type ChatMessage, type SessionChatCompletion } from '../../../src/index.js';

let engine: BrowserEngine | null = null;
let exported: Blob | null = null;

function errorInfo(e: unknown) {
  return isHearthError(e) ? { code: e.code, message: e.message, details: e.details ?? null } : { code: 'UNKNOWN', message: String(e), details: null };
}

async function keyFromStorage(): Promise<CryptoKey | undefined> {
  const raw = localStorage.getItem('hearth-test-key');
  if (!raw) return undefined;
  const bytes = Uint8Array.from(atob(raw), (c) => c.charCodeAt(0));
  return crypto.subtle.importKey('raw', bytes, 'AES-GCM', false, ['encrypt', 'decrypt']);
}

interface LoadArgs {
  endpoint: string;
  model?: string;
  dtype?: 'q8_0';
  /** Use the test worker that pauses after each written piece (for the crash trials). */
  crash?: { piece: number; pause: number };
  encrypted?: boolean;
}

function testWorker(crash: { piece: number; pause: number }): Worker {
  const url = new URL('./sessions.worker.ts', import.meta.url);
  url.searchParams.set('piece', String(crash.piece));
  url.searchParams.set('pause', String(crash.pause));
  return new Worker(url, { type: 'module' });
}

function summary(r: SessionChatCompletion) {
  return {
    content: r.choices[0]!.message.content,
    ids: r.hearth.ids,
    promptIds: r.hearth.prompt_ids,
    promptTokens: r.usage.prompt_tokens,
    cachedTokens: r.usage.prompt_tokens_details.cached_tokens,
    prefilled: r.hearth.prefilled_tokens,
    reused: r.hearth.reused_tokens,
    ttftMs: r.hearth.timings.ttft_ms,
    session: r.session,
  };
}

const api = {
  async newKey() {
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', key));
    localStorage.setItem('hearth-test-key', btoa(String.fromCharCode(...raw)));
  },

  async load(a: LoadArgs) {
    try {
      const worker = a.crash ? testWorker(a.crash) : undefined;
      const key = a.encrypted ? await keyFromStorage() : undefined;
      engine = await createEngine({ model: a.model ?? 'tinyllamas/stories260K', endpoint: a.endpoint, contextLength: 256, dtype: a.dtype, worker, sessions: key ? { key } : undefined });
      return { ok: true, storage: await engine.sessions.storage() };
    } catch (e) {
      return { ok: false, error: errorInfo(e) };
    }
  },

  async unload() {
    await engine?.unload();
    engine = null;
  },

  async create(title?: string, messages?: ChatMessage[]) {
    return engine!.sessions.create({ title, messages });
  },

  async turn(id: string, message: string, maxTokens = 10) {
    try {
      return { ok: true, ...summary(await engine!.sessions.chat(id, { message, temperature: 0, max_tokens: maxTokens })) };
    } catch (e) {
      return { ok: false, error: errorInfo(e) };
    }
  },

  async turnMessages(id: string, messages: ChatMessage[], maxTokens = 10) {
    return summary(await engine!.sessions.chat(id, { messages, temperature: 0, max_tokens: maxTokens }));
  },

  /** A streamed turn: the text adds up, and the last chunk has the session's turn. */
  async streamTurn(id: string, message: string, maxTokens = 10) {
    let text = '';
    let session = null;
    for await (const c of await engine!.sessions.chat(id, { message, temperature: 0, max_tokens: maxTokens, stream: true })) {
      text += c.choices[0]!.delta.content ?? '';
      if (c.session) session = c.session;
    }
    return { text, session };
  },

  async list() {
    return engine!.sessions.list();
  },

  async get(id: string) {
    try {
      return { ok: true, session: await engine!.sessions.get(id) };
    } catch (e) {
      return { ok: false, error: errorInfo(e) };
    }
  },

  async remove(id: string) {
    await engine!.sessions.delete(id);
  },

  async exportSession(id: string) {
    exported = await engine!.sessions.export(id);
    return { size: exported.size, type: exported.type };
  },

  async importExported() {
    return engine!.sessions.import(exported!);
  },

  /** Sessions read from the page itself, with no model and no worker (as a sidebar would before loading). */
  async pageGet(id: string, encrypted = false) {
    try {
      const key = encrypted ? await keyFromStorage() : undefined;
      const s = await openSessions({ key });
      return { ok: true, session: await s.get(id), list: await s.list() };
    } catch (e) {
      return { ok: false, error: errorInfo(e) };
    }
  },

  /** What OPFS holds under hearth-sessions/, and whether any file contains `needle`. */
  async opfs(needle?: string) {
    const root = await (await navigator.storage.getDirectory()).getDirectoryHandle('hearth-sessions', { create: true });
    const out: Record<string, { name: string; size: number; plaintext: boolean; kind: number }[]> = {};
    const want = needle ? new TextEncoder().encode(needle) : null;
    const has = (b: Uint8Array) => {
      if (!want) return false;
      outer: for (let i = 0; i + want.length <= b.length; i++) {
        for (let j = 0; j < want.length; j++) if (b[i + j] !== want[j]) continue outer;
        return true;
      }
      return false;
    };
    for await (const [name, h] of (root as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
      if (h.kind !== 'directory') continue;
      out[name] = [];
      for await (const [f, fh] of (h as unknown as { entries(): AsyncIterable<[string, FileSystemFileHandle]> }).entries()) {
        const b = new Uint8Array(await (await fh.getFile()).arrayBuffer());
        out[name]!.push({ name: f, size: b.length, plaintext: has(b), kind: b[4] ?? -1 });
      }
    }
    return out;
  },

  /**
   * One crash trial: a fresh engine in the test worker; a turn that edits the conversation to
   * `messages`; the worker is terminated right after the first piece of a `kill.file` file
   * ('k' the KV chunk, 'm' the manifest) that brings it to at least `kill.at` of its bytes
   * (1: right after its last byte). Without `kill`, the turn completes.
   */
  async crashTrial(a: LoadArgs & { id: string; messages: ChatMessage[]; kill?: { file: 'k' | 'm'; at: number } }) {
    const worker = testWorker(a.crash!);
    const writes: string[] = [];
    let killed = false;
    let onKill: () => void = () => undefined;
    const killedP = new Promise<void>((r) => (onKill = r));
    worker.addEventListener('message', (e: MessageEvent<{ hearthTestWrite?: { name: string; written: number; total: number } }>) => {
      const w = e.data?.hearthTestWrite;
      if (!w || killed) return;
      writes.push(`${w.name}:${w.written}/${w.total}`);
      if (a.kill && w.name.startsWith(`${a.kill.file}-`) && w.written >= a.kill.at * w.total) {
        killed = true;
        worker.terminate();
        onKill();
      }
    });
    const e = await createEngine({ model: a.model ?? 'tinyllamas/stories260K', endpoint: a.endpoint, contextLength: 256, worker });
    const turn = e.sessions.chat(a.id, { messages: a.messages, temperature: 0, max_tokens: 8 });
    turn.catch(() => undefined);
    const completed = await Promise.race([turn.then(() => true, () => false), killedP.then(() => false)]);
    if (!killed) {
      await e.unload();
      worker.terminate();
    }
    return { killed, completed, writes, last: writes[writes.length - 1] ?? null };
  },
};

Object.assign(window, { hearthTest: api, ready: true });
