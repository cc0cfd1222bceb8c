import { flatName, isQuotaError, storageFull, type CacheStore, type StoreReader, type StoreWriter } from './cache-store.js';
import { sha256Hex } from './sha256.js';
import type { FileHandle, IterableDirectory, SyncAccessHandle } from '../util/opfs.js';

/**
 * The weight cache in the origin private file system: <namespace>/<model dir>/manifest.json and
 * one file per model file. In a dedicated worker a FileSystemSyncAccessHandle writes in place and
 * flushes each piece, so a closed tab keeps every piece it flushed; elsewhere createWritable()
 * writes to a swap file that only lands on close(), so there a closed tab loses the bytes of that
 * download session (an abort still closes, and keeps them).
 */

const MANIFEST = 'manifest.json';

export interface OpfsOptions {
  /** Use FileSystemSyncAccessHandle where the context has it (dedicated workers). Default true. */
  syncHandles?: boolean;
}

/** Null when this context has no usable OPFS (no API, refused, or no way to write). */
export async function openOpfsStore(namespace: string, opts: OpfsOptions = {}): Promise<CacheStore | null> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  if (typeof storage?.getDirectory !== 'function') return null;
  let ns: FileSystemDirectoryHandle;
  try {
    ns = await (await storage.getDirectory()).getDirectoryHandle(safeSegment(namespace), { create: true });
  } catch (e) {
    // a full disk is worth saying; anything else (private modes that refuse OPFS) means no OPFS here
    if (isQuotaError(e)) throw storageFull(e);
    return null;
  }
  const proto = (globalThis as { FileSystemFileHandle?: { prototype: object } }).FileSystemFileHandle?.prototype;
  const canSync = opts.syncHandles !== false && !!proto && 'createSyncAccessHandle' in proto;
  const canWritable = !!proto && 'createWritable' in proto;
  if (!canSync && !canWritable) return null;
  return new OpfsStore(ns, canSync, canWritable);
}

function safeSegment(s: string): string {
  const flat = flatName(s);
  return flat === '' || flat === '.' || flat === '..' ? `_${flat}` : flat;
}

/** Data files get a prefix so no model file can be called 'manifest.json' here; very long names are hashed. */
function dataName(file: string): string {
  const flat = flatName(file);
  return flat.length <= 200 ? `f-${flat}` : `h-${sha256Hex(new TextEncoder().encode(file))}`;
}

function isNotFound(e: unknown): boolean {
  const name = (e as { name?: unknown } | null)?.name;
  return name === 'NotFoundError' || name === 'TypeMismatchError';
}

class OpfsStore implements CacheStore {
  readonly kind = 'opfs';

  constructor(
    private readonly ns: FileSystemDirectoryHandle,
    private readonly canSync: boolean,
    private readonly canWritable: boolean,
  ) {}

  private async dir(dir: string, create: boolean): Promise<FileSystemDirectoryHandle | null> {
    try {
      return await this.ns.getDirectoryHandle(dir, { create });
    } catch (e) {
      if (!create && isNotFound(e)) return null;
      throw e;
    }
  }

  private async file(dir: string, name: string, create: boolean): Promise<FileHandle | null> {
    const d = await this.dir(dir, create);
    if (!d) return null;
    try {
      return await d.getFileHandle(name, { create });
    } catch (e) {
      if (!create && isNotFound(e)) return null;
      throw e;
    }
  }

  async listDirs(): Promise<string[]> {
    const out: string[] = [];
    for await (const [name, h] of (this.ns as unknown as IterableDirectory).entries()) {
      if (h.kind === 'directory' && (await this.file(name, MANIFEST, false))) out.push(name);
    }
    return out;
  }

  async readManifest(dir: string): Promise<string | null> {
    const fh = await this.file(dir, MANIFEST, false);
    return fh ? (await fh.getFile()).text() : null;
  }

  async writeManifest(dir: string, text: string): Promise<void> {
    const fh = (await this.file(dir, MANIFEST, true))!;
    const bytes = new TextEncoder().encode(text);
    if (this.canWritable) {
      // a swap file that replaces the manifest on close: never half written
      const w = await fh.createWritable();
      try {
        await w.write(bytes);
        await w.close();
      } catch (e) {
        await w.abort().catch(() => undefined);
        throw e;
      }
      return;
    }
    const h = await fh.createSyncAccessHandle!();
    try {
      h.truncate(0);
      writeAll(h, bytes, 0);
      h.flush();
    } finally {
      h.close();
    }
  }

  async storedBytes(dir: string, file: string, committed: number): Promise<number> {
    const fh = await this.file(dir, dataName(file), false);
    if (!fh) return 0;
    return Math.min(committed, (await fh.getFile()).size);
  }

  async openWriter(dir: string, file: string, from: number): Promise<StoreWriter> {
    const fh = (await this.file(dir, dataName(file), true))!;
    if (this.canSync) return syncWriter(await fh.createSyncAccessHandle!(), from);
    return writableWriter(fh, from);
  }

  async openReader(dir: string, file: string, size: number): Promise<StoreReader | null> {
    const fh = await this.file(dir, dataName(file), false);
    if (!fh) return null;
    let snapshot = await fh.getFile();
    if (snapshot.size < size) return null;
    return {
      async read(offset: number, length: number): Promise<Uint8Array> {
        try {
          return new Uint8Array(await snapshot.slice(offset, offset + length).arrayBuffer());
        } catch (e) {
          // a File is a snapshot: once the file changed on disk it reads as NotReadableError
          if ((e as { name?: unknown } | null)?.name !== 'NotReadableError') throw e;
          snapshot = await fh.getFile();
          return new Uint8Array(await snapshot.slice(offset, offset + length).arrayBuffer());
        }
      },
    };
  }

  async deleteFile(dir: string, file: string): Promise<void> {
    const d = await this.dir(dir, false);
    try {
      await d?.removeEntry(dataName(file));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  async deleteDir(dir: string): Promise<void> {
    try {
      await this.ns.removeEntry(dir, { recursive: true });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  async clear(): Promise<void> {
    const names: string[] = [];
    for await (const [name] of (this.ns as unknown as IterableDirectory).entries()) names.push(name);
    for (const name of names) await this.deleteDir(name);
  }
}

function writeAll(h: SyncAccessHandle, bytes: Uint8Array, at: number): void {
  let done = 0;
  while (done < bytes.byteLength) {
    const n = h.write(bytes.subarray(done), { at: at + done });
    if (n <= 0) throw new DOMException('The file could not be written.', 'QuotaExceededError');
    done += n;
  }
}

function syncWriter(h: SyncAccessHandle, from: number): StoreWriter {
  let pos = from;
  let closed = false;
  try {
    h.truncate(from);
  } catch (e) {
    h.close();
    throw e;
  }
  return {
    async write(bytes) {
      writeAll(h, bytes, pos);
      pos += bytes.byteLength;
    },
    async commit() {
      h.flush();
      return pos;
    },
    async close() {
      if (closed) return pos;
      closed = true;
      try {
        h.flush();
      } finally {
        h.close();
      }
      return pos;
    },
  };
}

async function writableWriter(fh: FileHandle, from: number): Promise<StoreWriter> {
  const w = await fh.createWritable({ keepExistingData: from > 0 });
  try {
    if (from > 0) {
      await w.truncate(from);
      await w.seek(from);
    }
  } catch (e) {
    await w.abort().catch(() => undefined);
    throw e;
  }
  let pos = from;
  let durable = from;
  let closed = false;
  return {
    async write(bytes) {
      await w.write(bytes as Uint8Array<ArrayBuffer>);
      pos += bytes.byteLength;
    },
    // createWritable only lands its data on close(); reopening per piece would copy the whole file each time
    async commit() {
      return durable;
    },
    async close() {
      if (closed) return durable;
      closed = true;
      try {
        await w.close();
        durable = pos;
      } catch (e) {
        await w.abort().catch(() => undefined);
        throw e;
      }
      return durable;
    },
  };
}
