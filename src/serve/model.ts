/**
 * The one model a server runs (with its Whisper model, when --audio-model names one: both live on
 * the same device, loaded by one createEngine), and its recovery: when the GPU device is lost (a
 * driver reset, a GPU process crash, an eGPU unplugged) the engine is gone for good, so the host
 * answers 503 while it loads the model (and the Whisper model) again on a new device, then serves
 * as before.
 */
import { basename } from 'node:path';
import { createEngine, type CreateEngineOptions, type NodeEngine } from '../node.js';
import { HearthError, isHearthError } from '../errors.js';

export interface ModelHostOptions extends Omit<CreateEngineOptions, 'name'> {
  /** Decode up to this many greedy requests together (Engine.enableBatching); absent: one at a time. */
  batch?: number;
  /** Told when the model (re)loads or a reload fails. */
  onEvent?: (event: { kind: 'loaded' | 'device-lost' | 'reload-failed'; ms?: number; error?: unknown }) => void;
}

/** The id a server shows for a model: a local file's name without its extension, else what was given. */
export function servedModelId(model: string): string {
  if (/^[a-z]+:\/\//i.test(model)) return basename(new URL(model).pathname).replace(/\.(gguf|safetensors)$/i, '') || model;
  if (model.startsWith('/') || model.startsWith('.') || model.startsWith('~') || /\.(gguf|safetensors)$/i.test(model)) return basename(model).replace(/\.(gguf|safetensors)$/i, '');
  return model;
}

export class ModelHost {
  readonly id: string;
  /** The speech-to-text model's id (options.audioModel), or null when the server has none. */
  readonly audioId: string | null;
  /** When the server started serving it (seconds since the epoch, as OpenAI's `created`). */
  readonly createdAt = Math.floor(Date.now() / 1000);
  private engine: NodeEngine | null = null;
  private loading: Promise<NodeEngine> | null = null;
  private closed = false;
  /** When a reload last failed: the next one is tried on a request, at most every RETRY_MS. */
  private failedAt = 0;
  /** How many times the model was loaded again after a lost device. */
  reloads = 0;

  constructor(private readonly opts: ModelHostOptions) {
    this.id = servedModelId(opts.model);
    this.audioId = opts.audioModel ? servedModelId(opts.audioModel) : null;
  }

  /** Loads the model (the first time). */
  async start(): Promise<NodeEngine> {
    return this.load();
  }

  /** Loads the model, after `before` (unloading a lost engine), as one promise others can wait on. */
  private load(before?: () => Promise<void>): Promise<NodeEngine> {
    this.loading ??= (async () => {
      await before?.();
      const t0 = performance.now();
      const { onEvent: _e, batch, ...create } = this.opts;
      const engine = await createEngine({ ...create, name: this.id });
      if (batch) engine.engine.enableBatching({ maxRows: batch });
      if (this.closed) {
        await engine.unload();
        throw unavailable('The server is shutting down.');
      }
      this.engine = engine;
      this.opts.onEvent?.({ kind: 'loaded', ms: performance.now() - t0 });
      return engine;
    })().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  /** Whether requests can run now. */
  get ready(): boolean {
    return !!this.engine && !this.engine.info.deviceLost;
  }

  /**
   * The engine to run a request on. While the model (re)loads, or once its device is found lost
   * (which starts the reload), an ENGINE_UNLOADED error: the client gets 503 and retries.
   */
  current(): NodeEngine {
    const e = this.engine;
    if (e && !e.info.deviceLost) return e;
    if (e) this.recover();
    else if (!this.loading && !this.closed && this.failedAt && Date.now() - this.failedAt > RETRY_MS) this.retry();
    throw unavailable(this.closed ? 'The server is shutting down.' : 'The model is loading (after a lost GPU device, or at start).');
  }

  /** Called with a request's failure: a lost device starts the reload. */
  noticeFailure(e: unknown): void {
    if (isHearthError(e, 'DEVICE_LOST') || this.engine?.info.deviceLost) this.recover();
  }

  private recover(): void {
    const lost = this.engine;
    if (!lost || this.loading || this.closed) return;
    this.engine = null;
    this.opts.onEvent?.({ kind: 'device-lost' });
    this.reloads++;
    this.load(() => lost.unload().catch(() => undefined)).catch((error: unknown) => this.failed(error));
  }

  private retry(): void {
    this.failedAt = 0;
    this.load().catch((error: unknown) => this.failed(error));
  }

  private failed(error: unknown): void {
    this.failedAt = Date.now();
    this.opts.onEvent?.({ kind: 'reload-failed', error });
  }

  /** Resolves once a model is loaded and usable (after a reload, say). */
  async whenReady(): Promise<NodeEngine> {
    if (this.ready) return this.engine!;
    await this.loading?.catch(() => undefined);
    if (!this.ready) throw unavailable('The model could not be loaded again.');
    return this.engine!;
  }

  /**
   * Test hook: destroys the GPU device behind the engine's back, as a driver reset would. The
   * running request and the next ones fail with DEVICE_LOST, and the model loads again.
   */
  loseDeviceForTesting(): void {
    this.engine?.engine.ctx.device.destroy();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.loading?.catch(() => undefined);
    const e = this.engine;
    this.engine = null;
    await e?.unload();
  }
}

const RETRY_MS = 10_000;

const unavailable = (message: string) => new HearthError('ENGINE_UNLOADED', message, { hint: 'Retry in a few seconds.' });
