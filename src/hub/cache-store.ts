import { HearthError } from '../errors.js';
import { abortError } from './byte-source.js';

/**
 * Where the weight cache keeps bytes: OPFS or the Cache API. The cache above it decides what is
 * stored; a store only knows model folders (`dir`), one manifest each, and files of bytes.
 */
export interface CacheStore {
  readonly kind: 'opfs' | 'cache-api';
  /** Folders that hold a manifest. */
  listDirs(): Promise<string[]>;
  readManifest(dir: string): Promise<string | null>;
  /** Replaces the manifest as a whole: a crash leaves the old one or the new one, never a mix. */
  writeManifest(dir: string, text: string): Promise<void>;
  /**
   * How many leading bytes of `file` may be resumed from: at most `committed` (what the manifest
   * says was made durable), less if storage lost some.
   */
  storedBytes(dir: string, file: string, committed: number, piece: number): Promise<number>;
  /** Writes `file` onward from byte `from`, dropping anything stored past it. */
  openWriter(dir: string, file: string, from: number, piece: number): Promise<StoreWriter>;
  /** Reads the first `size` bytes of `file`; null when fewer are stored. */
  openReader(dir: string, file: string, size: number, piece: number): Promise<StoreReader | null>;
  deleteFile(dir: string, file: string): Promise<void>;
  deleteDir(dir: string): Promise<void>;
  clear(): Promise<void>;
}

/**
 * Appends bytes. `piece` is the granularity a store may split a file into (the Cache API cannot
 * append to an entry, so it keeps one entry per piece); the cache writes whole pieces except at
 * the end of a file, so no piece is ever rewritten.
 */
export interface StoreWriter {
  write(bytes: Uint8Array): Promise<void>;
  /** Makes what was written durable where the store can do so cheaply; returns the bytes now durable. */
  commit(): Promise<number>;
  /** Makes everything durable and releases the file; returns the bytes durable. */
  close(): Promise<number>;
}

export interface StoreReader {
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** File names inside a model become one flat, safe name per file ('onnx/model.onnx' -> 'onnx%2Fmodel.onnx'). */
export function flatName(file: string): string {
  return encodeURIComponent(file).replace(/\*/g, '%2A');
}

/** The DOMException names storage APIs use for a full disk or an exhausted quota. */
export function isQuotaError(e: unknown): boolean {
  const name = (e as { name?: unknown } | null)?.name;
  return name === 'QuotaExceededError';
}

interface LockManagerLike {
  request<T>(name: string, options: { signal?: AbortSignal }, callback: () => Promise<T>): Promise<T>;
}

const localLocks = new Map<string, Promise<unknown>>();

/**
 * Runs `fn` holding the named lock. Web Locks span every tab and worker of the origin, so two tabs
 * never write the same file at once; without them, the lock only spans this context.
 */
export async function withLock<T>(name: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  if (locks) {
    try {
      return await locks.request(name, signal ? { signal } : {}, fn);
    } catch (e) {
      if (signal?.aborted && (e as { name?: unknown } | null)?.name === 'AbortError') throw abortError(signal);
      throw e;
    }
  }
  const prev = localLocks.get(name) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.catch(() => undefined);
  localLocks.set(name, tail);
  try {
    return await run;
  } finally {
    if (localLocks.get(name) === tail) localLocks.delete(name);
  }
}

/** Storage refused even a small write: nothing can be cached until space is freed. */
export function storageFull(cause: unknown): HearthError {
  return new HearthError('QUOTA_EXCEEDED', 'The browser storage for this site is full; the weight cache cannot store anything.', {
    hint: 'Delete cached models you no longer need (list() and delete() on the weight cache) or free disk space, then load again.',
    cause,
  });
}

/** A storage failure we did not expect, with what was being done. */
export function storageError(what: string, e: unknown): HearthError {
  if (e instanceof HearthError) return e;
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return new HearthError('INTERNAL', `The weight cache could not ${what}: ${msg}`, {
    hint: 'Clear the weight cache (or load without it) and try again.',
    cause: e,
  });
}
