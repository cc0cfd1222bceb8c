import { check, HearthError } from '../errors.js';
import type { ModelSource } from './byte-source.js';
import { openCacheApiStore } from './cache-api.js';
import { parseManifest } from './cache-manifest.js';
import { openOpfsStore } from './cache-opfs.js';
import { CacheContext, CachedModelSource, type StorageSpace, type WrapOptions } from './cache-source.js';
import { storageError, withLock, type CacheStore } from './cache-store.js';

export type { CacheProgress, StorageSpace, WrapOptions } from './cache-source.js';

export interface CachedFileInfo {
  file: string;
  /** The file's full size (the stored part is smaller while `complete` is false). */
  size: number;
  sha256?: string;
  complete: boolean;
}

export interface CachedModelInfo {
  /** The source id, e.g. 'hf:owner/name@rev' or the URL. */
  key: string;
  files: CachedFileInfo[];
  /** Bytes stored, partial downloads included. */
  bytes: number;
  /** Milliseconds since the epoch. */
  lastUsed: number;
}

export interface WeightCache {
  /** Where the bytes live. */
  readonly backend: 'opfs' | 'cache-api';
  list(): Promise<CachedModelInfo[]>;
  delete(key: string): Promise<void>;
  clear(): Promise<void>;
  /**
   * Wrap a remote ModelSource: files are served from the cache when complete; otherwise
   * downloaded into it first (resuming a partial download with an HTTP Range request from the
   * bytes already stored), then served from it.
   */
  wrap(source: ModelSource, opts?: WrapOptions): ModelSource;
}

export interface WeightCacheOptions {
  /** 'auto' (the default) takes OPFS where it can write, else the Cache API. */
  backend?: 'opfs' | 'cache-api' | 'auto';
  /** Separate caches in one origin. Default 'hearth-weights'. */
  namespace?: string;
  /**
   * Bytes per download request, and the most a crash can lose. A multiple of 64. Default 16 MiB.
   * A file keeps the piece size it was started with.
   */
  pieceBytes?: number;
  /** How full storage is; default navigator.storage.estimate(). Tests inject a shortfall here. */
  estimate?: () => Promise<StorageSpace>;
  /** Write through FileSystemSyncAccessHandle in workers that have it. Default true. */
  syncHandles?: boolean;
}

const DEFAULT_NAMESPACE = 'hearth-weights';
const DEFAULT_PIECE = 16 << 20;

let persistAsked = false;

/** Asks once per page to keep our storage out of automatic eviction; the browser may say no. */
function askPersistence(): void {
  if (persistAsked) return;
  persistAsked = true;
  const storage = (globalThis as { navigator?: { storage?: { persist?: () => Promise<boolean> } } }).navigator?.storage;
  // persist() exists in windows only; a worker's storage shares the page's decision
  if (typeof storage?.persist === 'function') storage.persist().catch(() => false);
}

function defaultEstimate(): (() => Promise<StorageSpace>) | null {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  if (typeof storage?.estimate !== 'function') return null;
  return () => storage.estimate();
}

export async function openWeightCache(opts: WeightCacheOptions = {}): Promise<WeightCache> {
  const backend = opts.backend ?? 'auto';
  const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
  const piece = opts.pieceBytes ?? DEFAULT_PIECE;
  check(['opfs', 'cache-api', 'auto'].includes(backend), `Unknown weight cache backend ${JSON.stringify(backend)}.`, "Use 'opfs', 'cache-api' or 'auto'.");
  check(namespace.length > 0 && namespace.length <= 100, 'The weight cache namespace must be 1 to 100 characters.');
  check(Number.isSafeInteger(piece) && piece >= 64 && piece % 64 === 0, `pieceBytes must be a positive multiple of 64, not ${piece}.`);

  let store: CacheStore | null = null;
  if (backend !== 'cache-api') store = await openOpfsStore(namespace, { syncHandles: opts.syncHandles });
  if (!store && backend !== 'opfs') store = await openCacheApiStore(namespace);
  if (!store) {
    const what = backend === 'auto' ? 'OPFS or the Cache API' : backend === 'opfs' ? 'a writable OPFS' : 'the Cache API';
    throw new HearthError('INVALID_ARGUMENT', `This context has no ${what} to keep model weights in.`, {
      hint: 'Storage needs a secure context (https or localhost) and is off in some private modes; load without the weight cache.',
      details: { backend },
    });
  }
  askPersistence();
  return new BrowserWeightCache(new CacheContext(store, namespace, piece, opts.estimate ?? defaultEstimate()));
}

class BrowserWeightCache implements WeightCache {
  constructor(private readonly ctx: CacheContext) {}

  get backend(): 'opfs' | 'cache-api' {
    return this.ctx.store.kind;
  }

  async list(): Promise<CachedModelInfo[]> {
    const out: CachedModelInfo[] = [];
    try {
      for (const dir of await this.ctx.store.listDirs()) {
        const m = parseManifest(await this.ctx.store.readManifest(dir));
        if (!m || this.ctx.dirOf(m.key) !== dir) continue;
        const names = Object.keys(m.files).sort();
        const files = names.map((file): CachedFileInfo => {
          const e = m.files[file]!;
          const info: CachedFileInfo = { file, size: e.size, complete: e.complete };
          if (e.sha256) info.sha256 = e.sha256;
          return info;
        });
        const bytes = names.reduce((n, f) => n + m.files[f]!.stored, 0);
        out.push({ key: m.key, files, bytes, lastUsed: m.lastUsed });
      }
    } catch (e) {
      throw storageError('list cached models', e);
    }
    return out.sort((a, b) => b.lastUsed - a.lastUsed);
  }

  async delete(key: string): Promise<void> {
    const dir = this.ctx.dirOf(key);
    try {
      await withLock(this.ctx.lockName(dir), undefined, () => this.ctx.store.deleteDir(dir));
    } catch (e) {
      throw storageError(`delete ${key} (is it still loading?)`, e);
    }
  }

  async clear(): Promise<void> {
    try {
      await this.ctx.store.clear();
    } catch (e) {
      throw storageError('clear itself (is a model still loading?)', e);
    }
  }

  wrap(source: ModelSource, opts?: WrapOptions): ModelSource {
    return new CachedModelSource(this.ctx, source, opts);
  }
}
