/**
 * Sessions in the origin private file system: <namespace>/<session id>/<file>. In a dedicated
 * worker files are written through FileSystemSyncAccessHandle (in place, flushed before the write
 * resolves); elsewhere through createWritable, whose swap file lands whole on close().
 */
import { HearthError } from '../errors.js';
import { isQuotaError } from '../hub/cache-store.js';
import type { SessionStore, StoredFile } from './store.js';
import type { FileHandle, IterableDirectory, SyncAccessHandle } from '../util/opfs.js';

/** One step of a file write, for progress (and for tests that stop a worker mid-write). */
export interface WriteEvent {
  id: string;
  name: string;
  written: number;
  total: number;
}

export interface OpfsSessionStoreOptions {
  /** Top folder in OPFS. Default 'hearth-sessions'. */
  namespace?: string;
  /** Use sync access handles where the context has them (dedicated workers). Default true. */
  syncHandles?: boolean;
  /** Bytes per write call. Default 4 MiB. */
  pieceBytes?: number;
  /** Called after each piece is written (awaited). */
  onWrite?: (e: WriteEvent) => void | Promise<void>;
}

function isNotFound(e: unknown): boolean {
  const name = (e as { name?: unknown } | null)?.name;
  return name === 'NotFoundError' || name === 'TypeMismatchError';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Null when this context has no usable OPFS. */
export async function openOpfsSessionStore(opts: OpfsSessionStoreOptions = {}): Promise<SessionStore | null> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  if (typeof storage?.getDirectory !== 'function') return null;
  let root: FileSystemDirectoryHandle;
  try {
    root = await (await storage.getDirectory()).getDirectoryHandle(opts.namespace ?? 'hearth-sessions', { create: true });
  } catch (e) {
    if (isQuotaError(e)) throw quotaError(e);
    return null;
  }
  const proto = (globalThis as { FileSystemFileHandle?: { prototype: object } }).FileSystemFileHandle?.prototype;
  const canSync = opts.syncHandles !== false && !!proto && 'createSyncAccessHandle' in proto;
  if (!canSync && !(proto && 'createWritable' in proto)) return null;
  return new OpfsSessionStore(root, storage, canSync, opts);
}

function quotaError(cause: unknown): HearthError {
  return new HearthError('QUOTA_EXCEEDED', 'The browser storage for this site is full; the session could not be saved.', {
    hint: 'Delete sessions or cached models you no longer need, or free disk space.',
    cause,
  });
}

class OpfsSessionStore implements SessionStore {
  readonly kind = 'opfs';
  private readonly piece: number;

  constructor(
    private readonly root: FileSystemDirectoryHandle,
    private readonly storage: StorageManager,
    private readonly canSync: boolean,
    private readonly opts: OpfsSessionStoreOptions,
  ) {
    this.piece = opts.pieceBytes ?? 4 << 20;
  }

  private async dir(id: string, create: boolean): Promise<FileSystemDirectoryHandle | null> {
    try {
      return await this.root.getDirectoryHandle(id, { create });
    } catch (e) {
      if (!create && isNotFound(e)) return null;
      throw e;
    }
  }

  async listSessions(): Promise<string[]> {
    const out: string[] = [];
    for await (const [name, h] of (this.root as unknown as IterableDirectory).entries()) if (h.kind === 'directory') out.push(name);
    return out;
  }

  async listFiles(id: string): Promise<StoredFile[] | null> {
    const d = await this.dir(id, false);
    if (!d) return null;
    const out: StoredFile[] = [];
    for await (const [name, h] of (d as unknown as IterableDirectory).entries()) {
      if (h.kind !== 'file') continue;
      try {
        out.push({ name, size: (await (h as FileSystemFileHandle).getFile()).size });
      } catch (e) {
        // a file being written elsewhere can refuse getFile() for a moment; it is still there
        if (!isNotFound(e)) out.push({ name, size: 0 });
      }
    }
    return out;
  }

  async read(id: string, name: string): Promise<Uint8Array | null> {
    const d = await this.dir(id, false);
    if (!d) return null;
    try {
      const fh = await d.getFileHandle(name);
      return new Uint8Array(await (await fh.getFile()).arrayBuffer());
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async write(id: string, name: string, bytes: Uint8Array): Promise<void> {
    try {
      const fh = (await (await this.dir(id, true))!.getFileHandle(name, { create: true })) as FileHandle;
      if (this.canSync) await this.writeSync(fh, id, name, bytes);
      else await this.writeWritable(fh, id, name, bytes);
    } catch (e) {
      if (isQuotaError(e)) throw quotaError(e);
      throw e;
    }
  }

  private async syncHandle(fh: FileHandle): Promise<SyncAccessHandle> {
    // a handle left by a worker that was just stopped is released a moment later
    for (let i = 0; ; i++) {
      try {
        return await fh.createSyncAccessHandle!();
      } catch (e) {
        if ((e as { name?: unknown }).name !== 'NoModificationAllowedError' || i >= 40) throw e;
        await sleep(50);
      }
    }
  }

  private async writeSync(fh: FileHandle, id: string, name: string, bytes: Uint8Array): Promise<void> {
    const h = await this.syncHandle(fh);
    try {
      h.truncate(0);
      let at = 0;
      while (at < bytes.byteLength) {
        const piece = bytes.subarray(at, Math.min(bytes.byteLength, at + this.piece));
        let done = 0;
        while (done < piece.byteLength) {
          const n = h.write(piece.subarray(done), { at: at + done });
          if (n <= 0) throw new DOMException('The file could not be written.', 'QuotaExceededError');
          done += n;
        }
        at += piece.byteLength;
        await this.opts.onWrite?.({ id, name, written: at, total: bytes.byteLength });
      }
      h.flush();
    } finally {
      h.close();
    }
  }

  private async writeWritable(fh: FileHandle, id: string, name: string, bytes: Uint8Array): Promise<void> {
    const w = await fh.createWritable();
    try {
      let at = 0;
      while (at < bytes.byteLength) {
        const piece = bytes.subarray(at, Math.min(bytes.byteLength, at + this.piece));
        await w.write(piece as Uint8Array<ArrayBuffer>);
        at += piece.byteLength;
        await this.opts.onWrite?.({ id, name, written: at, total: bytes.byteLength });
      }
      await w.close();
    } catch (e) {
      await w.abort().catch(() => undefined);
      throw e;
    }
  }

  async remove(id: string, name: string): Promise<void> {
    const d = await this.dir(id, false);
    try {
      await d?.removeEntry(name);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  async removeSession(id: string): Promise<void> {
    try {
      await this.root.removeEntry(id, { recursive: true });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  async free(): Promise<number | null> {
    try {
      const { quota, usage } = await this.storage.estimate();
      if (quota === undefined || usage === undefined) return null;
      return Math.max(0, quota - usage);
    } catch {
      return null;
    }
  }
}
