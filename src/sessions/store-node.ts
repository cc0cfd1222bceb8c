/**
 * Sessions under a folder on disk (Node): <dir>/<session id>/<file>. Each file is written to a
 * temporary name, fsynced, then renamed over its final name, so a file is either whole or absent
 * (the manifest above would cope with torn files too; this keeps the folder tidy).
 */
import { mkdir, open, readdir, readFile, rename, rm, stat, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { HearthError } from '../errors.js';
import type { SessionStore, StoredFile } from './store.js';

const TMP = '.tmp-';

function code(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}

function storageError(what: string, e: unknown): HearthError {
  if (code(e) === 'ENOSPC' || code(e) === 'EDQUOT') {
    return new HearthError('QUOTA_EXCEEDED', `The disk is full: could not ${what}.`, { hint: 'Delete sessions you no longer need or free disk space.', cause: e });
  }
  return new HearthError('INTERNAL', `Could not ${what}: ${e instanceof Error ? e.message : String(e)}`, { hint: 'Check that the sessions folder is writable.', cause: e });
}

export class NodeSessionStore implements SessionStore {
  readonly kind = 'node-fs';

  constructor(private readonly dir: string) {}

  async listSessions(): Promise<string[]> {
    try {
      const entries = await readdir(this.dir, { withFileTypes: true });
      return entries.filter((e) => e.isDirectory()).map((e) => e.name);
    } catch (e) {
      if (code(e) === 'ENOENT') return [];
      throw storageError('list sessions', e);
    }
  }

  async listFiles(id: string): Promise<StoredFile[] | null> {
    let names: string[];
    try {
      names = await readdir(join(this.dir, id));
    } catch (e) {
      if (code(e) === 'ENOENT' || code(e) === 'ENOTDIR') return null;
      throw storageError(`list session ${id}`, e);
    }
    const out: StoredFile[] = [];
    for (const name of names) {
      if (name.startsWith(TMP)) continue;
      try {
        out.push({ name, size: (await stat(join(this.dir, id, name))).size });
      } catch (e) {
        if (code(e) !== 'ENOENT') throw storageError(`read session ${id}`, e);
      }
    }
    return out;
  }

  async read(id: string, name: string): Promise<Uint8Array | null> {
    try {
      const b = await readFile(join(this.dir, id, name));
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      if (code(e) === 'ENOENT') return null;
      throw storageError(`read ${id}/${name}`, e);
    }
  }

  async write(id: string, name: string, bytes: Uint8Array): Promise<void> {
    const folder = join(this.dir, id);
    const tmp = join(folder, `${TMP}${name}`);
    try {
      await mkdir(folder, { recursive: true });
      const f = await open(tmp, 'w');
      try {
        await f.writeFile(bytes);
        await f.sync();
      } finally {
        await f.close();
      }
      await rename(tmp, join(folder, name));
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw storageError(`write ${id}/${name}`, e);
    }
  }

  async remove(id: string, name: string): Promise<void> {
    await rm(join(this.dir, id, name), { force: true });
  }

  async removeSession(id: string): Promise<void> {
    await rm(join(this.dir, id), { recursive: true, force: true });
  }

  async free(): Promise<number | null> {
    try {
      await mkdir(this.dir, { recursive: true });
      const s = await statfs(this.dir);
      return s.bavail * s.bsize;
    } catch {
      return null;
    }
  }
}
