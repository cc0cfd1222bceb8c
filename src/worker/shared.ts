/**
 * One engine for every tab of an origin (createEngine({ shared: true }) where SharedWorker
 * exists). The SharedWorker keeps one EngineHost; each tab that connects gets a TabHost with the
 * same methods, so the page side is unchanged. The first tab's load() loads the model; a later
 * tab asking for the same model joins it (no second load). Requests from all tabs go through
 * one fair queue (round-robin across tabs), and each tab's request ids are its own: an abort
 * touches only the request of the tab that sent it. The model is unloaded when the last tab that
 * loaded it calls unload() or closes: each tab holds a Web Lock for its life (watchTab), and the
 * worker, granted it, ends that tab's requests and lets go of the model for it.
 */
import * as Comlink from 'comlink';
import { HearthError } from '../errors.js';
import { FairQueue } from '../util/fair-queue.js';
import type { EngineInfo } from '../engine/engine.js';
import type { LoadProgress } from '../models/load.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionCreateParams, Completion, CompletionChunk, CompletionCreateParams } from '../api/types.js';
import type { ChatMessage } from '../tokenizer/index.js';
import type { CachedModelInfo } from '../hub/cache.js';
import type { SessionsHost } from '../sessions/host.js';
import { EngineHost, type HostLoadOptions } from './host.js';

/** EngineHost's public methods: what a tab calls, whether its worker is dedicated or shared. */
export type EngineApi = { [K in keyof EngineHost]: EngineHost[K] };

type Params<T> = Omit<T, 'signal' | 'stream'>;

export interface SharedStats {
  /** Models loaded by this SharedWorker since it started. */
  loads: number;
  /** Tabs using the loaded model. */
  tabs: number;
  /** Requests running and waiting, all tabs together. */
  active: number;
  queued: number;
}

/** The options that make two loads the same model (callbacks and the abort signal aside). */
const keyOf = (o: HostLoadOptions) => JSON.stringify([o.model, o.revision ?? null, o.endpoint ?? null, o.dtype ?? null, o.activations ?? null, o.kvCache ?? null, o.contextLength ?? null]);

export class SharedEngine {
  readonly host: EngineHost;
  readonly queue = new FairQueue({ maxActive: 1, maxQueued: 1024 });
  private loaded: { key: string; info: Promise<EngineInfo> } | null = null;
  private readonly users = new Set<TabHost>();
  private nextTab = 0;
  loads = 0;

  constructor(host = new EngineHost()) {
    this.host = host;
  }

  /** A new tab's view of the engine. */
  connect(): TabHost {
    return new TabHost(this, ++this.nextTab);
  }

  async load(tab: TabHost, opts: HostLoadOptions, onProgress?: (p: LoadProgress) => void): Promise<EngineInfo> {
    const key = keyOf(opts);
    if (this.loaded && this.loaded.key !== key) {
      const others = [...this.users].filter((u) => u !== tab).length;
      if (others) {
        throw new HearthError('INVALID_ARGUMENT', `Another tab of this site uses a different model (or options) in the shared engine (${others} tab(s)).`, {
          hint: 'Load the same model in every tab, or create this engine with shared: false (a worker of its own).',
        });
      }
      this.loaded = null;
    }
    if (!this.loaded) {
      const info = this.host.load(opts, onProgress);
      this.loaded = { key, info };
      this.loads++;
      info.catch(() => {
        if (this.loaded?.info === info) this.loaded = null;
      });
    }
    const info = await this.loaded.info;
    this.users.add(tab);
    return info;
  }

  /** A tab is done with the model: the last one unloads it. */
  async release(tab: TabHost): Promise<EngineInfo | null> {
    if (!this.users.delete(tab)) return this.host.info();
    if (this.users.size) return this.host.info();
    this.loaded = null;
    return this.host.unload();
  }

  stats(): SharedStats {
    return { loads: this.loads, tabs: this.users.size, ...this.queue.stats };
  }
}

/** One tab's connection: its request ids namespaced, its requests queued fairly with the other tabs'. */
export class TabHost implements EngineApi {
  /** Requests admitted or waiting, by namespaced id: abort() reaches them in either state. */
  private readonly waiting = new Map<string, AbortController>();
  /** Namespaced ids of this tab's requests running in the engine. */
  private readonly running = new Set<string>();
  private left = false;

  constructor(
    private readonly shared: SharedEngine,
    private readonly tab: number,
  ) {}

  private id(requestId: string): string {
    return `tab${this.tab}:${requestId}`;
  }

  /** Waits for this tab's turn, then runs the request under its namespaced id. */
  private async admitted<T>(requestId: string, run: (id: string) => Promise<T>): Promise<T> {
    const id = this.id(requestId);
    const ctrl = new AbortController();
    this.waiting.set(id, ctrl);
    let slot;
    try {
      slot = await this.shared.queue.acquire(`tab${this.tab}`, ctrl.signal);
    } finally {
      this.waiting.delete(id);
    }
    try {
      if (ctrl.signal.aborted || this.left) throw new HearthError('ABORTED', 'The request was aborted.');
      // run() registers the id with the host synchronously: from here host.abort(id) reaches it
      this.running.add(id);
      return await run(id);
    } finally {
      this.running.delete(id);
      slot.release();
    }
  }

  /**
   * The tab holds the Web Lock `lock` for as long as it lives; the worker asks for it, and is
   * granted it when the tab has closed (or unloaded): then the tab's requests end and it stops
   * using the model.
   */
  watchTab(lock: string): void {
    const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
    void locks?.request(lock, () => this.leave());
  }

  private leave(): Promise<EngineInfo | null> {
    this.left = true;
    for (const c of this.waiting.values()) c.abort();
    for (const id of this.running) this.shared.host.abort(id);
    return this.shared.release(this);
  }

  load(opts: HostLoadOptions, onProgress?: (p: LoadProgress) => void): Promise<EngineInfo> {
    return this.shared.load(this, opts, onProgress);
  }

  abortLoad(): void {
    this.shared.host.abortLoad();
  }

  sessions(): SessionsHost & Comlink.ProxyMarked {
    return this.shared.host.sessions();
  }

  abort(requestId: string): void {
    const id = this.id(requestId);
    this.waiting.get(id)?.abort();
    this.shared.host.abort(id);
  }

  chat(params: Params<ChatCompletionCreateParams>, requestId: string): Promise<ChatCompletion> {
    return this.admitted(requestId, (id) => this.shared.host.chat(params, id));
  }

  chatStream(params: Params<ChatCompletionCreateParams>, requestId: string, onChunk: (c: ChatCompletionChunk) => unknown): Promise<ChatCompletionChunk | null> {
    return this.admitted(requestId, (id) => this.shared.host.chatStream(params, id, onChunk));
  }

  completion(params: Params<CompletionCreateParams>, requestId: string): Promise<Completion> {
    return this.admitted(requestId, (id) => this.shared.host.completion(params, id));
  }

  completionStream(params: Params<CompletionCreateParams>, requestId: string, onChunk: (c: CompletionChunk) => unknown): Promise<CompletionChunk | null> {
    return this.admitted(requestId, (id) => this.shared.host.completionStream(params, id, onChunk));
  }

  encode(text: string, addSpecialTokens = true): number[] {
    return this.shared.host.encode(text, addSpecialTokens);
  }

  decode(ids: number[], skipSpecialTokens = false): string {
    return this.shared.host.decode(ids, skipSpecialTokens);
  }

  applyChatTemplate(messages: ChatMessage[], addGenerationPrompt = true): string {
    return this.shared.host.applyChatTemplate(messages, addGenerationPrompt);
  }

  info(): EngineInfo | null {
    return this.shared.host.info();
  }

  /** This tab is done: its requests end; the model stays while another tab uses it. */
  unload(): Promise<EngineInfo | null> {
    return this.leave();
  }

  loseDeviceForTesting(): boolean {
    return this.shared.host.loseDeviceForTesting();
  }

  cacheList(): Promise<CachedModelInfo[]> {
    return this.shared.host.cacheList();
  }

  cacheDelete(key: string): Promise<void> {
    return this.shared.host.cacheDelete(key);
  }

  /** The Whisper model is shared by the tabs like the chat model; transcriptions queue with their requests. */
  loadAudio(...a: Parameters<EngineApi['loadAudio']>): ReturnType<EngineApi['loadAudio']> {
    return this.shared.host.loadAudio(...a);
  }

  transcribe(params: Parameters<EngineApi['transcribe']>[0], requestId: string, onSegment?: Parameters<EngineApi['transcribe']>[2]): ReturnType<EngineApi['transcribe']> {
    return this.admitted(requestId, (id) => this.shared.host.transcribe(params, id, onSegment));
  }

  unloadAudio(): void {
    this.shared.host.unloadAudio();
  }

  audioInfo(): ReturnType<EngineApi['audioInfo']> {
    return this.shared.host.audioInfo();
  }

  /** How the shared engine is used (tests, diagnostics). */
  sharedStats(): SharedStats {
    return this.shared.stats();
  }
}
