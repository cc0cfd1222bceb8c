/**
 * The main-thread side: createEngine() starts the worker (or takes the caller's), wraps it with
 * Comlink and gives back the OpenAI-style API as plain TS idioms: async iterators for streams,
 * AbortSignal for cancellation, a callback for load progress, typed errors.
 */
import * as Comlink from 'comlink';
import { HearthError } from './errors.js';
import { installErrorTransfer } from './worker/errors.js';
import { pushToPull } from './util/push-stream.js';
import type { EngineHost, HostLoadOptions } from './worker/host.js';
import type { TabHost } from './worker/shared.js';
import type { EngineInfo } from './engine/engine.js';
import type { LoadProgress } from './models/load.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionCreateParams, Completion, CompletionChunk, CompletionCreateParams } from './api/types.js';
import type { ChatMessage } from './tokenizer/index.js';
import type { CachedModelInfo } from './hub/cache.js';
import { sessionsClient } from './sessions/client.js';
import type { SessionsHost } from './sessions/host.js';
import type { SessionsApi } from './sessions/types.js';
import type { TranscriptionCreateParams, TranscriptionResult, TranscriptionVerbose } from './api/audio.js';
import type { WhisperInfo } from './engine/whisper.js';

export interface CreateEngineOptions extends HostLoadOptions {
  onProgress?: (p: LoadProgress) => void;
  /** Abort loading. */
  signal?: AbortSignal;
  /** A worker you created yourself (e.g. with your bundler's worker syntax) running hearth's worker entry. */
  worker?: Worker;
  /**
   * Share one engine among the tabs of this origin (a SharedWorker): a second tab asking for the
   * same model uses the one already loaded; requests of all tabs are queued fairly. Where
   * SharedWorker does not exist (Chrome on Android), a worker of this page's own, as without it.
   */
  shared?: boolean;
  /** A Whisper model to load next to the chat model for engine.audio (or later: engine.audio.load). */
  audioModel?: string;
}

export interface BrowserAudio {
  transcriptions: {
    create(params: TranscriptionCreateParams & { response_format: 'text' | 'srt' | 'vtt' }): Promise<string>;
    create(params: TranscriptionCreateParams & { response_format: 'verbose_json' }): Promise<TranscriptionVerbose>;
    create(params: TranscriptionCreateParams): Promise<TranscriptionResult>;
  };
  /** Loads a Whisper model (URL, repo id or dropped files) into the worker, on the chat model's GPU device. */
  load(model: HostLoadOptions['model'], opts?: Pick<HostLoadOptions, 'revision' | 'endpoint' | 'token' | 'cache'> & { onProgress?: (p: LoadProgress) => void }): Promise<WhisperInfo & { name: string }>;
  /** Frees the Whisper model's GPU memory (the chat model stays). */
  unload(): Promise<void>;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface BrowserEngine {
  chat: {
    completions: {
      create(params: ChatCompletionCreateParams & { stream: true }, options?: RequestOptions): Promise<AsyncIterable<ChatCompletionChunk>>;
      create(params: ChatCompletionCreateParams & { stream?: false | null }, options?: RequestOptions): Promise<ChatCompletion>;
    };
  };
  completions: {
    create(params: CompletionCreateParams & { stream: true }, options?: RequestOptions): Promise<AsyncIterable<CompletionChunk>>;
    create(params: CompletionCreateParams & { stream?: false | null }, options?: RequestOptions): Promise<Completion>;
  };
  tokenizer: {
    encode(text: string, opts?: { addSpecialTokens?: boolean }): Promise<number[]>;
    decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): Promise<string>;
    applyChatTemplate(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }): Promise<string>;
  };
  /** Conversations kept on the device with their KV cache (OPFS, in the worker). */
  readonly sessions: SessionsApi;
  /** Speech to text with a local Whisper model, in the same worker (OpenAI's audio.transcriptions). */
  readonly audio: BrowserAudio;
  /** The latest snapshot: model, adapter, features, context length, GPU memory used (0 after unload). */
  readonly info: EngineInfo;
  /** A fresh snapshot from the worker. */
  getInfo(): Promise<EngineInfo>;
  /** Free the model's GPU memory and end the worker (when we started it). */
  unload(): Promise<void>;
  /** The worker behind this engine (a dedicated one: for a shared engine, see sharedWorker). */
  readonly worker: Worker;
  /** The SharedWorker behind a shared engine; null when this page has a worker of its own. */
  readonly sharedWorker: SharedWorker | null;
}

let requestCounter = 0;

/** Start hearth's worker: emitted by bundlers as its own chunk. */
export function createWorker(): Worker {
  return new Worker(new URL('./worker/worker.ts', import.meta.url), { type: 'module', name: 'hearth' });
}

/** Start hearth's worker as a SharedWorker, one for every tab of the origin (the same entry). */
export function createSharedWorker(): SharedWorker {
  return new SharedWorker(new URL('./worker/worker.ts', import.meta.url), { type: 'module', name: 'hearth' });
}

export async function createEngine(options: CreateEngineOptions): Promise<BrowserEngine> {
  installErrorTransfer();
  const sharedWorker = options.shared && !options.worker && typeof SharedWorker !== 'undefined' ? createSharedWorker() : null;
  const ownWorker = !options.worker && !sharedWorker;
  const worker = sharedWorker ? null : (options.worker ?? createWorker());
  const endpoint = sharedWorker ? sharedWorker.port : worker!;
  const host = Comlink.wrap<EngineHost>(endpoint);
  let releaseTabLock: (() => void) | null = null;
  const end = () => {
    if (ownWorker) worker!.terminate();
    sharedWorker?.port.close();
    releaseTabLock?.();
  };

  // A worker that dies rejects every pending call instead of leaving it hanging.
  let dead: HearthError | null = null;
  const pending = new Set<(e: HearthError) => void>();
  const die = (message: string) => {
    if (dead) return;
    dead = new HearthError('WORKER_CRASHED', `The Hearth worker stopped: ${message}`, { hint: 'Create the engine again; if it keeps happening, try a smaller model.' });
    for (const reject of pending) reject(dead);
    pending.clear();
  };
  (sharedWorker ?? worker!).addEventListener('error', (e) => die((e as ErrorEvent).message || 'uncaught error'));
  endpoint.addEventListener('messageerror', () => die('a message could not be deserialized'));
  const guard = <T>(p: Promise<T>): Promise<T> => {
    if (dead) return Promise.reject(dead);
    return new Promise<T>((resolve, reject) => {
      pending.add(reject);
      p.then(resolve, reject).finally(() => pending.delete(reject));
    });
  };

  const onAbortLoad = () => void host.abortLoad();
  options.signal?.addEventListener('abort', onAbortLoad, { once: true });
  let info: EngineInfo;
  try {
    const { onProgress, signal, worker: _w, shared: _s, audioModel, ...load } = options;
    void signal;
    void _w;
    void _s;
    info = await guard(host.load(load, onProgress ? Comlink.proxy(onProgress) : undefined));
    if (audioModel) await guard(host.loadAudio({ model: audioModel, revision: load.revision, endpoint: load.endpoint, token: load.token, cache: load.cache }));
  } catch (e) {
    end();
    throw e;
  } finally {
    options.signal?.removeEventListener('abort', onAbortLoad);
  }

  // a shared engine learns that this tab has closed when the Web Lock held here is released
  if (sharedWorker) {
    const tab = await holdTabLock();
    if (tab) {
      releaseTabLock = tab.release;
      await guard((host as unknown as Comlink.Remote<TabHost>).watchTab(tab.name));
    }
  }

  const withAbort = async <T>(signal: AbortSignal | undefined, run: (id: string) => Promise<T>): Promise<T> => {
    const id = `r${++requestCounter}`;
    if (signal?.aborted) throw new HearthError('ABORTED', 'The request was aborted.');
    const onAbort = () => void host.abort(id);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await guard(run(id));
    } finally {
      signal?.removeEventListener('abort', onAbort);
      void refresh();
    }
  };

  const refresh = async () => {
    if (dead) return;
    const i = await host.info().catch(() => null);
    if (i) info = i;
  };

  /** Turn chunk callbacks from the worker into an async iterator; leaving the loop aborts the request. */
  const stream = <C>(signal: AbortSignal | undefined, start: (id: string, onChunk: (c: C) => void) => Promise<C | null>): AsyncIterable<C> =>
    pushToPull<C>((push, inner) => withAbort(inner, (id) => start(id, Comlink.proxy(push))), signal);

  const strip = <T extends { signal?: AbortSignal; stream?: boolean | null }>(p: T): Omit<T, 'signal' | 'stream'> => {
    const { signal: _s, stream: _st, ...rest } = p;
    void _s;
    void _st;
    return rest;
  };

  let sessionsRemote: Promise<Comlink.Remote<SessionsHost>> | null = null;
  const engine: BrowserEngine = {
    sessions: sessionsClient(() => (sessionsRemote ??= host.sessions()), guard),
    chat: {
      completions: {
        create: (async (params: ChatCompletionCreateParams, o?: RequestOptions) => {
          const signal = o?.signal ?? params.signal;
          if (params.stream) return stream<ChatCompletionChunk>(signal, (id, cb) => host.chatStream(strip(params), id, cb));
          return withAbort(signal, (id) => host.chat(strip(params), id));
        }) as BrowserEngine['chat']['completions']['create'],
      },
    },
    completions: {
      create: (async (params: CompletionCreateParams, o?: RequestOptions) => {
        const signal = o?.signal ?? params.signal;
        if (params.stream) return stream<CompletionChunk>(signal, (id, cb) => host.completionStream(strip(params), id, cb));
        return withAbort(signal, (id) => host.completion(strip(params), id));
      }) as BrowserEngine['completions']['create'],
    },
    audio: {
      transcriptions: {
        create: (async (params: TranscriptionCreateParams) => {
          const { signal, onSegment, ...rest } = params;
          // a page decodes with its own AudioContext and sends the worker samples (workers have none)
          let file = rest.file;
          if (typeof OfflineAudioContext !== 'undefined' && !(file && typeof file === 'object' && 'samples' in file)) {
            const { decodeAudio } = await import('./audio/decode.js');
            file = { samples: (await decodeAudio(file, signal)).samples, sampleRate: 16000 };
          }
          return withAbort<TranscriptionResult>(signal, (id) => host.transcribe({ ...rest, file }, id, onSegment ? Comlink.proxy(onSegment) : undefined) as Promise<TranscriptionResult>);
        }) as BrowserAudio['transcriptions']['create'],
      },
      load: (model, o) => {
        const { onProgress, ...rest } = o ?? {};
        return guard(host.loadAudio({ model, ...rest }, onProgress ? Comlink.proxy(onProgress) : undefined));
      },
      unload: () => guard(host.unloadAudio()),
    },
    tokenizer: {
      encode: (text, o) => guard(host.encode(text, o?.addSpecialTokens ?? true)),
      decode: (ids, o) => guard(host.decode(ids, o?.skipSpecialTokens ?? false)),
      applyChatTemplate: (messages, o) => guard(host.applyChatTemplate(messages, o?.addGenerationPrompt ?? true)),
    },
    get info() {
      return info;
    },
    async getInfo() {
      await refresh();
      return info;
    },
    async unload() {
      if (!dead) {
        const last = await guard(host.unload()).catch(() => null);
        if (last) info = last;
      }
      end();
      dead ??= new HearthError('ENGINE_UNLOADED', 'This engine has been unloaded.', { hint: 'Create a new engine.' });
    },
    get worker(): Worker {
      if (!worker) throw new HearthError('INVALID_ARGUMENT', 'This engine runs in a SharedWorker, shared with the other tabs of this site.', { hint: 'Use engine.sharedWorker.' });
      return worker;
    },
    sharedWorker,
  };
  return engine;
}

/** A Web Lock held until release() or the page's end (none where Web Locks do not exist). */
async function holdTabLock(): Promise<{ name: string; release: () => void } | null> {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  if (!locks) return null;
  const name = `hearth-tab:${crypto.randomUUID()}`;
  let release = () => {};
  await new Promise<void>((granted) => {
    void locks.request(name, () => {
      granted();
      return new Promise<void>((r) => (release = r));
    });
  });
  return { name, release };
}

/** The weight cache, managed from the page: list cached models and delete them. */
export async function listCachedModels(): Promise<CachedModelInfo[]> {
  const { openWeightCache } = await import('./hub/cache.js');
  return (await openWeightCache()).list();
}

export async function deleteCachedModel(key: string): Promise<void> {
  const { openWeightCache } = await import('./hub/cache.js');
  await (await openWeightCache()).delete(key);
}
