/**
 * Where session files live: a folder per session, flat file names inside. A store only moves
 * bytes; what makes a session crash-safe (immutable chunks, a checksummed manifest written last,
 * the newest readable manifest wins) lives above it, so a store may leave a torn file behind when
 * the process dies mid-write.
 */

export interface StoredFile {
  name: string;
  size: number;
}

export interface SessionStore {
  readonly kind: 'opfs' | 'node-fs' | 'memory';
  /** Session folders, in no particular order. */
  listSessions(): Promise<string[]>;
  /** The files of a session; null when it has no folder. */
  listFiles(id: string): Promise<StoredFile[] | null>;
  /** A whole file; null when it does not exist. */
  read(id: string, name: string): Promise<Uint8Array | null>;
  /** Writes a whole file (creating the folder), replacing any file of that name; durable when it resolves. */
  write(id: string, name: string, bytes: Uint8Array): Promise<void>;
  remove(id: string, name: string): Promise<void>;
  /** Removes the session's folder and everything in it. */
  removeSession(id: string): Promise<void>;
  /** Bytes that may still be written, when the store can tell. */
  free(): Promise<number | null>;
}

/** Sessions in memory: for Node without a folder, contexts without OPFS, and tests. */
export class MemorySessionStore implements SessionStore {
  readonly kind = 'memory';
  readonly sessions = new Map<string, Map<string, Uint8Array>>();

  async listSessions(): Promise<string[]> {
    return [...this.sessions.keys()];
  }

  async listFiles(id: string): Promise<StoredFile[] | null> {
    const d = this.sessions.get(id);
    return d ? [...d].map(([name, b]) => ({ name, size: b.byteLength })) : null;
  }

  async read(id: string, name: string): Promise<Uint8Array | null> {
    return this.sessions.get(id)?.get(name)?.slice() ?? null;
  }

  async write(id: string, name: string, bytes: Uint8Array): Promise<void> {
    let d = this.sessions.get(id);
    if (!d) this.sessions.set(id, (d = new Map()));
    d.set(name, bytes.slice());
  }

  async remove(id: string, name: string): Promise<void> {
    this.sessions.get(id)?.delete(name);
  }

  async removeSession(id: string): Promise<void> {
    this.sessions.delete(id);
  }

  async free(): Promise<number | null> {
    return null;
  }
}
