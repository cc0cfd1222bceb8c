/**
 * engine.sessions on the page: the worker's SessionsHost behind the same SessionsApi as in Node,
 * with AbortSignal and async iterators as the page expects them.
 */
import * as Comlink from 'comlink';
import { HearthError } from '../errors.js';
import type { SessionsHost, RemoteChatParams } from './host.js';
import { pushToPull } from '../util/push-stream.js';
import type { SessionChatChunk, SessionChatCompletion, SessionChatParams, SessionRequestOptions, SessionsApi } from './types.js';

/** A stream left early aborts its turn with this. */
const closed = () => new HearthError('ABORTED', 'The stream was closed by the caller.');

let requestCounter = 0;

function strip(p: SessionChatParams): RemoteChatParams {
  const { signal: _s, stream: _st, ...rest } = p;
  void _s;
  void _st;
  return rest;
}

/**
 * `remote` gives the worker's sessions host; `guard` rejects calls pending on a worker that died
 * (WORKER_CRASHED) instead of leaving them hanging.
 */
export function sessionsClient(remote: () => Promise<Comlink.Remote<SessionsHost>>, guard: <T>(p: Promise<T>) => Promise<T>): SessionsApi {
  const call = <T>(fn: (h: Comlink.Remote<SessionsHost>) => Promise<T>): Promise<T> => guard(remote().then(fn));

  async function chat(id: string, params: SessionChatParams, options?: SessionRequestOptions): Promise<SessionChatCompletion | AsyncIterable<SessionChatChunk>> {
    if (!params || typeof params !== 'object') throw new HearthError('INVALID_ARGUMENT', 'sessions.chat(id, params) needs a params object.');
    const signal = options?.signal ?? params.signal;
    const rest = strip(params);
    const withAbort = async <T>(s: AbortSignal | undefined, run: (h: Comlink.Remote<SessionsHost>, requestId: string) => Promise<T>): Promise<T> => {
      const requestId = `s${++requestCounter}`;
      if (s?.aborted) throw new HearthError('ABORTED', 'The request was aborted.');
      const h = await guard(remote());
      const onAbort = () => void h.abort(requestId);
      s?.addEventListener('abort', onAbort, { once: true });
      try {
        return await guard(run(h, requestId));
      } finally {
        s?.removeEventListener('abort', onAbort);
      }
    };
    if (params.stream) {
      return pushToPull<SessionChatChunk>((push, s) => withAbort(s, (h, rid) => h.chatStream(id, rest, rid, Comlink.proxy(push)) as Promise<SessionChatChunk | null>), signal, closed);
    }
    return withAbort(signal, (h, rid) => h.chat(id, rest, rid) as Promise<SessionChatCompletion>);
  }

  return {
    create: (opts) => call((h) => h.create(opts)),
    list: () => call((h) => h.list()),
    get: (id) => call((h) => h.get(id)),
    update: (id, patch) => call((h) => h.update(id, patch)),
    delete: (id) => call((h) => h.delete(id)),
    export: (id) => call((h) => h.export(id)),
    import: (data) => call((h) => h.import(data)),
    restore: (id) => call((h) => h.restore(id)),
    repair: (id) => call((h) => h.repair(id)),
    configure: (config) => call((h) => h.configure(config)),
    storage: () => call((h) => h.storage()),
    chat: chat as SessionsApi['chat'],
  };
}
