/**
 * What the worker exposes: one engine, its OpenAI-style API, its tokenizer, and the weight
 * cache. Plain async methods and proxied callbacks only, so Comlink can carry every call.
 */
import { pushAllButLast } from '../util/push-stream.js';
import * as Comlink from 'comlink';
import { HearthError } from '../errors.js';
import { createGpuContext, type GpuContext } from '../gpu/device.js';
import { resolveModelSource, type ModelSpec } from '../hub/resolve.js';
import { loadEngine } from '../engine/load.js';
import { AudioEngine, type TranscriptionCreateParams, type TranscriptionResult, type TranscriptionSegment } from '../api/audio.js';
import type { WhisperInfo } from '../engine/whisper.js';
import type { Engine, EngineInfo } from '../engine/engine.js';
import { createOpenAIApi, type OpenAIApi } from '../api/openai.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionCreateParams, Completion, CompletionChunk, CompletionCreateParams } from '../api/types.js';
import type { ChatMessage } from '../tokenizer/index.js';
import type { LoadProgress, WeightDtype } from '../models/load.js';
import type { ActivationMode } from '../models/forward.js';
import type { KvFormat } from '../kernels/kv_append.js';
import { openWeightCache, type CachedModelInfo, type WeightCache } from '../hub/cache.js';
import { Sessions } from '../sessions/sessions.js';
import { SessionsHost } from '../sessions/host.js';
import { MemorySessionStore, type SessionStore } from '../sessions/store.js';
import { openOpfsSessionStore } from '../sessions/store-opfs.js';
import type { SessionsConfig } from '../sessions/types.js';

export interface HostLoadOptions {
  model: ModelSpec;
  revision?: string;
  endpoint?: string;
  /** Hugging Face access token, for gated or private repos (sent only to the endpoint's requests). */
  token?: string;
  dtype?: WeightDtype;
  /** EngineLoadOptions.activations: 'f32' (default) or 'q8'. */
  activations?: ActivationMode;
  /** EngineLoadOptions.kvCache: 'f32' (default), 'f16' or 'q8'. */
  kvCache?: KvFormat;
  contextLength?: number;
  /** Keep downloaded files in the browser's storage (default true for remote models). */
  cache?: boolean;
  /** engine.sessions settings: an AES-GCM key to encrypt at rest, the stored KV format. */
  sessions?: SessionsConfig;
}

export interface EngineHostOptions {
  /** Where sessions live; default OPFS (in memory where there is none). */
  sessionStore?: () => Promise<SessionStore>;
}

type Params<T> = Omit<T, 'signal' | 'stream'>;

export class EngineHost {
  private ctx: GpuContext | null = null;
  private engine: Engine | null = null;
  private api: OpenAIApi | null = null;
  private requests = new Map<string, AbortController>();
  private loadCtrl: AbortController | null = null;
  private cache: Promise<WeightCache> | null = null;
  private sessionManager: Promise<Sessions> | null = null;
  private sessionsHost: SessionsHost | null = null;
  private modelName = '';
  private audio: AudioEngine | null = null;

  constructor(private readonly hostOptions: EngineHostOptions = {}) {}

  private openSessions(): Promise<Sessions> {
    this.sessionManager ??= (async () => {
      const store = (await this.hostOptions.sessionStore?.()) ?? (await openOpfsSessionStore()) ?? new MemorySessionStore();
      return new Sessions({ store, engine: () => this.engine, modelName: () => this.modelName });
    })().catch((e: unknown) => {
      this.sessionManager = null;
      throw e;
    });
    return this.sessionManager;
  }

  /** engine.sessions, as a Comlink proxy of its own. */
  sessions(): SessionsHost & Comlink.ProxyMarked {
    this.sessionsHost ??= new SessionsHost(() => this.openSessions());
    return Comlink.proxy(this.sessionsHost);
  }

  private weightCache(): Promise<WeightCache> {
    this.cache ??= openWeightCache();
    return this.cache;
  }

  async load(opts: HostLoadOptions, onProgress?: (p: LoadProgress) => void): Promise<EngineInfo> {
    if (this.engine) await this.unload();
    this.loadCtrl = new AbortController();
    const signal = this.loadCtrl.signal;
    try {
      if (opts.sessions) await (await this.openSessions()).configure(opts.sessions);
      // a lost device cannot come back: the next load takes a new one
      if (this.ctx?.lost) this.ctx = null;
      this.ctx ??= await createGpuContext((globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu);
      // Remote files go through the weight cache, which reports download/cache progress itself.
      const cached = typeof opts.model === 'string' && opts.cache !== false;
      let source = await resolveModelSource(opts.model, {
        revision: opts.revision,
        endpoint: opts.endpoint,
        token: opts.token,
        onProgress: onProgress && !cached ? (p) => onProgress({ phase: 'download', loaded: p.loaded, total: p.total, file: p.file }) : undefined,
      });
      if (cached) source = (await this.weightCache()).wrap(source, { onProgress, signal });
      this.engine = await loadEngine(this.ctx, source, { dtype: opts.dtype, activations: opts.activations, kvCache: opts.kvCache, contextLength: opts.contextLength, onProgress, signal });
      this.modelName = typeof opts.model === 'string' ? opts.model : source.id;
      this.api = createOpenAIApi(this.engine, this.modelName);
      return this.engine.info;
    } finally {
      this.loadCtrl = null;
    }
  }

  /** Loads a Whisper model for audio.transcriptions on the same GPU device (replacing the previous one). */
  async loadAudio(opts: Pick<HostLoadOptions, 'model' | 'revision' | 'endpoint' | 'token' | 'cache'>, onProgress?: (p: LoadProgress) => void): Promise<WhisperInfo & { name: string }> {
    if (this.ctx?.lost) {
      this.ctx = null;
      this.audio = null;
    }
    this.ctx ??= await createGpuContext((globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu);
    const cached = typeof opts.model === 'string' && opts.cache !== false;
    let source = await resolveModelSource(opts.model, { revision: opts.revision, endpoint: opts.endpoint, token: opts.token });
    if (cached) source = (await this.weightCache()).wrap(source, { onProgress });
    this.audio ??= new AudioEngine(this.ctx);
    await this.audio.load(source, typeof opts.model === 'string' ? opts.model : source.id);
    return this.audio.info!;
  }

  /** audio.transcriptions.create in the worker; `onSegment` gets each segment as its window is decoded. */
  async transcribe(params: Omit<TranscriptionCreateParams, 'signal' | 'onSegment'>, requestId: string, onSegment?: (s: TranscriptionSegment) => unknown): Promise<TranscriptionResult> {
    const signal = this.begin(requestId);
    try {
      if (!this.audio?.info) throw new HearthError('ENGINE_UNLOADED', 'No speech-to-text model is loaded.', { hint: 'Call engine.audio.load(model) first.' });
      // segments go out through the callback's port: wait for the last one before resolving
      let delivered: unknown = null;
      const result = await this.audio.transcriptions.create({ ...params, signal, onSegment: onSegment && ((s) => void (delivered = onSegment(s))) });
      await delivered;
      return result;
    } finally {
      this.requests.delete(requestId);
    }
  }

  /** Frees the Whisper model's GPU buffers. */
  unloadAudio(): void {
    this.audio?.unload();
  }

  audioInfo(): (WhisperInfo & { name: string }) | null {
    return this.audio?.info ?? null;
  }

  /** Abort a load in progress. */
  abortLoad(): void {
    this.loadCtrl?.abort(new HearthError('ABORTED', 'Loading was aborted.'));
  }

  private ready(): { engine: Engine; api: OpenAIApi } {
    if (!this.engine || !this.api) throw new HearthError('ENGINE_UNLOADED', 'No model is loaded.', { hint: 'Call createEngine (or load) first.' });
    return { engine: this.engine, api: this.api };
  }

  private begin(requestId: string): AbortSignal {
    const c = new AbortController();
    this.requests.set(requestId, c);
    return c.signal;
  }

  abort(requestId: string): void {
    this.requests.get(requestId)?.abort(new HearthError('ABORTED', 'The request was aborted.'));
  }

  async chat(params: Params<ChatCompletionCreateParams>, requestId: string): Promise<ChatCompletion> {
    const signal = this.begin(requestId);
    try {
      return await this.ready().api.chat.completions.create({ ...params, stream: false }, { signal });
    } finally {
      this.requests.delete(requestId);
    }
  }

  /** Streams chunks through `onChunk` (fire-and-forget messages: no per-token round trip); resolves with the last chunk. */
  async chatStream(params: Params<ChatCompletionCreateParams>, requestId: string, onChunk: (c: ChatCompletionChunk) => unknown): Promise<ChatCompletionChunk | null> {
    const signal = this.begin(requestId);
    try {
      const stream = await this.ready().api.chat.completions.create({ ...params, stream: true }, { signal });
      return await pushAllButLast(stream, onChunk, signal);
    } finally {
      this.requests.delete(requestId);
    }
  }

  async completion(params: Params<CompletionCreateParams>, requestId: string): Promise<Completion> {
    const signal = this.begin(requestId);
    try {
      return await this.ready().api.completions.create({ ...params, stream: false }, { signal });
    } finally {
      this.requests.delete(requestId);
    }
  }

  async completionStream(params: Params<CompletionCreateParams>, requestId: string, onChunk: (c: CompletionChunk) => unknown): Promise<CompletionChunk | null> {
    const signal = this.begin(requestId);
    try {
      const stream = await this.ready().api.completions.create({ ...params, stream: true }, { signal });
      return await pushAllButLast(stream, onChunk, signal);
    } finally {
      this.requests.delete(requestId);
    }
  }

  encode(text: string, addSpecialTokens = true): number[] {
    return this.ready().engine.tokenizer.encode(text, { addSpecialTokens });
  }

  decode(ids: number[], skipSpecialTokens = false): string {
    return this.ready().engine.tokenizer.decode(ids, { skipSpecialTokens });
  }

  applyChatTemplate(messages: ChatMessage[], addGenerationPrompt = true): string {
    return this.ready().engine.tokenizer.applyChatTemplate(messages, { addGenerationPrompt });
  }

  info(): EngineInfo | null {
    return this.engine?.info ?? null;
  }

  async unload(): Promise<EngineInfo | null> {
    for (const c of this.requests.values()) c.abort(new HearthError('ABORTED', 'The engine was unloaded.'));
    const e = this.engine;
    this.engine = null;
    this.api = null;
    if (!e) return null;
    await e.unload();
    return e.info;
  }

  /**
   * Test hook: destroys the GPU device behind the engine's back, as a driver reset or a crashed
   * GPU process would. Pending and later requests fail with DEVICE_LOST.
   */
  loseDeviceForTesting(): boolean {
    if (!this.ctx) return false;
    this.ctx.device.destroy();
    return true;
  }

  async cacheList(): Promise<CachedModelInfo[]> {
    return (await this.weightCache()).list();
  }

  async cacheDelete(key: string): Promise<void> {
    await (await this.weightCache()).delete(key);
  }
}
