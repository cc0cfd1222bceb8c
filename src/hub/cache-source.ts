import { formatBytes } from '../util/bytes.js';
import { HearthError, isHearthError } from '../errors.js';
import { abortError, checkReadRange, decodeUtf8, missingFile, normalizeFileName, throwIfAborted, type ByteSource, type ModelSource } from './byte-source.js';
import { emptyManifest, parseManifest, type FileEntry, type Manifest } from './cache-manifest.js';
import { isQuotaError, storageError, withLock, type CacheStore, type StoreReader, type StoreWriter } from './cache-store.js';
import { Sha256, sha256Hex } from './sha256.js';

export interface CacheProgress {
  phase: 'download' | 'cache';
  file: string;
  loaded: number;
  total: number;
}

export interface WrapOptions {
  onProgress?: (p: CacheProgress) => void;
  /** Aborts every download this wrapped source makes (each call's own signal works too). */
  signal?: AbortSignal;
}

export interface StorageSpace {
  quota?: number;
  usage?: number;
}

/** What the cached model sources of one opened cache share. */
export class CacheContext {
  constructor(
    readonly store: CacheStore,
    readonly namespace: string,
    readonly pieceBytes: number,
    readonly estimate: (() => Promise<StorageSpace>) | null,
  ) {}

  /** A folder name for a model key: a hash, so any key (URLs included) gives a short, safe name. */
  dirOf(key: string): string {
    return `m-${sha256Hex(new TextEncoder().encode(key)).slice(0, 32)}`;
  }

  lockName(dir: string, file?: string): string {
    const base = `hearth-weight-cache:${this.namespace}:${dir}`;
    return file === undefined ? base : `${base}:${file}`;
  }

  async readManifest(dir: string, key: string): Promise<Manifest | null> {
    try {
      return parseManifest(await this.store.readManifest(dir), key);
    } catch (e) {
      throw storageError('read its manifest', e);
    }
  }

  /** Read, change and write a manifest as one step, against every tab and worker of the origin. */
  async updateManifest(dir: string, key: string, change: (m: Manifest) => void): Promise<Manifest> {
    return withLock(this.lockName(dir), undefined, async () => {
      const m = (await this.readManifest(dir, key)) ?? emptyManifest(key);
      change(m);
      try {
        await this.store.writeManifest(dir, JSON.stringify(m));
      } catch (e) {
        throw isQuotaError(e) ? await this.quotaError(m.key, 0) : storageError('write its manifest', e);
      }
      return m;
    });
  }

  async freeSpace(): Promise<number | null> {
    if (!this.estimate) return null;
    try {
      const { quota, usage } = await this.estimate();
      if (quota === undefined || usage === undefined) return null;
      return Math.max(0, quota - usage);
    } catch {
      return null;
    }
  }

  async quotaError(file: string, needed: number): Promise<HearthError> {
    const free = await this.freeSpace();
    const need = needed > 0 ? ` ${formatBytes(needed)} more are needed` : ' more space is needed';
    const have = free === null ? '' : `, and ${formatBytes(free)} is free for this site`;
    return new HearthError('QUOTA_EXCEEDED', `Not enough browser storage to cache ${file}:${need}${have}.`, {
      hint: 'Delete cached models you no longer need (list() and delete() on the weight cache) or free disk space, then load again.',
      details: { file, needed, free },
    });
  }
}

function anySignal(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (!a || !b) return a ?? b;
  if (typeof AbortSignal.any === 'function') return AbortSignal.any([a, b]);
  const c = new AbortController();
  const stop = (s: AbortSignal) => () => c.abort(s.reason);
  if (a.aborted || b.aborted) c.abort((a.aborted ? a : b).reason);
  a.addEventListener('abort', stop(a), { once: true });
  b.addEventListener('abort', stop(b), { once: true });
  return c.signal;
}

function isAbortError(e: unknown): boolean {
  return (e as { name?: unknown } | null)?.name === 'AbortError';
}

/**
 * A ModelSource that answers from the weight cache and fills it from `source` on a miss. Every
 * answer the source gives (its listing, has(), a missing file) is recorded, so a model loaded
 * once loads again without a single request.
 */
export class CachedModelSource implements ModelSource {
  readonly id: string;
  readonly entry?: string;
  private readonly dir: string;
  private manifest: Promise<Manifest | null> | null = null;
  private touched = false;
  private readonly readFromCache = new Map<string, number>();

  constructor(
    private readonly ctx: CacheContext,
    private readonly source: ModelSource,
    private readonly opts: WrapOptions = {},
  ) {
    this.id = source.id;
    if (source.entry !== undefined) this.entry = source.entry;
    this.dir = ctx.dirOf(source.id);
  }

  private current(): Promise<Manifest | null> {
    this.manifest ??= this.ctx.readManifest(this.dir, this.id).catch((e: unknown) => {
      this.manifest = null;
      throw e;
    });
    return this.manifest;
  }

  private async update(change: (m: Manifest) => void): Promise<Manifest> {
    const m = await this.ctx.updateManifest(this.dir, this.id, change);
    this.manifest = Promise.resolve(m);
    return m;
  }

  private progress(p: CacheProgress): void {
    try {
      this.opts.onProgress?.(p);
    } catch {
      // a throwing listener must not break a load
    }
  }

  async list(signal?: AbortSignal): Promise<string[]> {
    const m = await this.current();
    if (m?.listing) return [...m.listing];
    const names = await this.source.list(anySignal(this.opts.signal, signal));
    await this.update((x) => (x.listing = [...names]));
    return names;
  }

  async has(file: string, signal?: AbortSignal): Promise<boolean> {
    const name = normalizeFileName(file);
    const m = await this.current();
    if (m?.files[name]) return true;
    const known = m?.known[name];
    if (known !== undefined) return known;
    if (m?.listing?.includes(name)) return true;
    const found = await this.source.has(name, anySignal(this.opts.signal, signal));
    await this.update((x) => (x.known[name] = found));
    return found;
  }

  async open(file: string, signal?: AbortSignal): Promise<ByteSource> {
    const name = normalizeFileName(file);
    const sig = anySignal(this.opts.signal, signal);
    throwIfAborted(sig);
    const m = await this.current();
    let entry = m?.files[name];
    if (entry?.complete) {
      const reader = await this.reader(name, entry);
      if (reader) return this.served(name, entry, reader);
    } else if (m?.known[name] === false) {
      throw missingFile(name, this.id, 'The cached answer says so; delete the model from the weight cache to ask the source again.');
    }
    entry = await this.download(name, sig);
    const reader = await this.reader(name, entry);
    if (!reader) throw storageError(`find ${name} right after storing it`, new Error('stored bytes are missing'));
    return this.served(name, entry, reader);
  }

  async readText(file: string, signal?: AbortSignal): Promise<string> {
    const src = await this.open(file, signal);
    return decodeUtf8(await src.read(0, await src.size(), signal));
  }

  private async reader(name: string, entry: FileEntry): Promise<StoreReader | null> {
    try {
      return await this.ctx.store.openReader(this.dir, name, entry.size, entry.piece);
    } catch (e) {
      throw storageError(`open ${name}`, e);
    }
  }

  private async served(name: string, entry: FileEntry, reader: StoreReader): Promise<ByteSource> {
    if (!this.touched) {
      this.touched = true;
      await this.update((x) => (x.lastUsed = Date.now()));
    }
    return new CachedByteSource(name, entry.size, entry.sha256, reader, (n) => {
      const loaded = Math.min(entry.size, (this.readFromCache.get(name) ?? 0) + n);
      this.readFromCache.set(name, loaded);
      this.progress({ phase: 'cache', file: name, loaded, total: entry.size });
    });
  }

  /** Fills the cache with `name`, resuming from what is stored; one download per file across the origin. */
  private download(name: string, signal: AbortSignal | undefined): Promise<FileEntry> {
    return withLock(this.ctx.lockName(this.dir, name), signal, async () => {
      // another tab or call may have finished it while we waited for the lock
      this.manifest = null;
      const fresh = await this.current();
      const done = fresh?.files[name];
      if (done?.complete && (await this.reader(name, done))) return done;

      let src: ByteSource;
      try {
        src = await this.source.open(name, signal);
      } catch (e) {
        if (isHearthError(e, 'MISSING_FILE')) await this.update((x) => (x.known[name] = false));
        throw e;
      }
      const size = await src.size();
      const sha256 = src.sha256?.toLowerCase();
      return this.fetchInto(name, src, size, sha256, done, signal);
    });
  }

  private async fetchInto(name: string, src: ByteSource, size: number, sha256: string | undefined, prior: FileEntry | undefined, signal: AbortSignal | undefined): Promise<FileEntry> {
    const store = this.ctx.store;
    const same = prior && prior.size === size && (prior.sha256 === undefined || sha256 === undefined || prior.sha256 === sha256);
    const piece = same ? prior.piece : this.ctx.pieceBytes;
    let from = 0;
    let hasher: Sha256 | null = null;
    try {
      if (same) from = await store.storedBytes(this.dir, name, prior.stored, piece);
      if (from === 0) await store.deleteFile(this.dir, name);
      if (sha256) ({ from, hasher } = await this.resumeHash(name, prior, from, piece));
    } catch (e) {
      throw storageError(`look at the stored part of ${name}`, e);
    }

    const needed = size - from;
    const free = await this.ctx.freeSpace();
    if (free !== null && needed > free) throw await this.ctx.quotaError(name, needed);

    const entry: FileEntry = { size, stored: from, complete: false, piece };
    if (sha256) entry.sha256 = sha256;
    const record = async (stored: number): Promise<void> => {
      entry.stored = stored;
      const state = hasher && hasher.bytes === stored ? hasher.save() : null;
      if (state) entry.hash = state;
      else delete entry.hash;
      await this.update((x) => {
        x.files[name] = { ...entry };
        x.known[name] = true;
      });
    };
    await record(from);

    let writer: StoreWriter;
    try {
      writer = await store.openWriter(this.dir, name, from, piece);
    } catch (e) {
      throw isQuotaError(e) ? await this.ctx.quotaError(name, needed) : storageError(`write ${name}`, e);
    }
    this.progress({ phase: 'download', file: name, loaded: from, total: size });

    // reads run one piece ahead of writes, so the network and the disk work at the same time
    const inner = new AbortController();
    const reads = anySignal(signal, inner.signal);
    const fetchPiece = (at: number): Promise<Uint8Array> | null => {
      if (at >= size) return null;
      const p = src.read(at, Math.min(piece, size - at), reads);
      p.catch(() => undefined);
      return p;
    };
    let pos = from;
    let durable = from;
    try {
      let next = fetchPiece(pos);
      while (next) {
        const bytes = await next;
        next = fetchPiece(pos + bytes.byteLength);
        await writer.write(bytes);
        hasher?.update(bytes);
        pos += bytes.byteLength;
        const now = await writer.commit();
        if (now > durable) await record((durable = now));
        this.progress({ phase: 'download', file: name, loaded: pos, total: size });
      }
      durable = await writer.close();
    } catch (e) {
      inner.abort();
      durable = await writer.close().catch(() => durable);
      await record(durable).catch(() => undefined);
      if (isHearthError(e)) throw e;
      if (isAbortError(e) && signal?.aborted) throw abortError(signal);
      throw isQuotaError(e) ? await this.ctx.quotaError(name, size - durable) : storageError(`write ${name}`, e);
    }

    if (durable !== size) throw storageError(`store all of ${name}`, new Error(`${durable} of ${size} bytes landed`));
    if (sha256 && hasher) {
      const got = hasher.hex();
      if (got !== sha256) {
        await store.deleteFile(this.dir, name).catch(() => undefined);
        await this.update((x) => delete x.files[name]);
        throw new HearthError('INTEGRITY', `${name} from ${this.id} does not match its published sha256: expected ${sha256}, got ${got}.`, {
          hint: 'The bad copy was deleted from the cache; load again to download it anew. If it keeps failing, the server is serving a different file than it lists.',
          details: { file: name, expected: sha256, actual: got, size },
        });
      }
    }
    entry.complete = true;
    await record(size);
    return { ...entry, hash: undefined };
  }

  /**
   * The hash of the bytes already stored: from the manifest when it was saved at that point,
   * otherwise by reading them back once. Falls back to starting over when they cannot be read.
   */
  private async resumeHash(name: string, prior: FileEntry | undefined, from: number, piece: number): Promise<{ from: number; hasher: Sha256 }> {
    if (from === 0) return { from, hasher: new Sha256() };
    if (prior?.hash && prior.hash.bytes === from) return { from, hasher: new Sha256(prior.hash) };
    const reader = await this.ctx.store.openReader(this.dir, name, from, piece);
    if (!reader) {
      await this.ctx.store.deleteFile(this.dir, name);
      return { from: 0, hasher: new Sha256() };
    }
    const hasher = new Sha256();
    for (let at = 0; at < from; at += piece) hasher.update(await reader.read(at, Math.min(piece, from - at)));
    return { from, hasher };
  }
}

/** A complete file in the cache. */
class CachedByteSource implements ByteSource {
  constructor(
    readonly name: string,
    private readonly bytes: number,
    readonly sha256: string | undefined,
    private readonly reader: StoreReader,
    private readonly onRead: (n: number) => void,
  ) {}

  async size(): Promise<number> {
    return this.bytes;
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    throwIfAborted(signal);
    checkReadRange(this.name, offset, length, this.bytes);
    let out: Uint8Array;
    try {
      out = await this.reader.read(offset, length);
    } catch (e) {
      const name = (e as { name?: unknown } | null)?.name;
      if (name === 'NotFoundError' || name === 'NotReadableError') {
        throw new HearthError('MISSING_FILE', `${this.name} disappeared from the weight cache while it was being read.`, {
          hint: 'It was deleted or evicted; load the model again to download it.',
          details: { file: this.name },
          cause: e,
        });
      }
      throw storageError(`read ${this.name}`, e);
    }
    if (out.byteLength !== length) checkReadRange(this.name, offset, length, offset + out.byteLength);
    this.onRead(length);
    return out;
  }
}
