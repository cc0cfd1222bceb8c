import { flatName, isQuotaError, storageFull, type CacheStore, type StoreReader, type StoreWriter } from './cache-store.js';

/**
 * The weight cache in the Cache API, for browsers without a usable OPFS. An entry cannot be
 * appended to, so a file is kept as pieces of a fixed size (one entry each): a download that
 * stops keeps its finished pieces and resumes after the last one.
 */

/** Entries need http(s) URLs; this origin is never fetched, it only names entries. */
const BASE = 'https://weights.hearth.invalid/';

export async function openCacheApiStore(namespace: string): Promise<CacheStore | null> {
  const storage = (globalThis as { caches?: CacheStorage }).caches;
  if (!storage) return null;
  try {
    return new CacheApiStore(storage, namespace, await storage.open(namespace));
  } catch (e) {
    if (isQuotaError(e)) throw storageFull(e);
    return null;
  }
}

function manifestUrl(dir: string): string {
  return `${BASE}${dir}/manifest`;
}

function fileUrl(dir: string, file: string): string {
  return `${BASE}${dir}/f/${flatName(file)}/`;
}

function pieceUrl(dir: string, file: string, index: number): string {
  return `${fileUrl(dir, file)}${index}`;
}

class CacheApiStore implements CacheStore {
  readonly kind = 'cache-api';

  constructor(
    private readonly storage: CacheStorage,
    private readonly name: string,
    private cache: Cache,
  ) {}

  private async urls(prefix: string): Promise<string[]> {
    return (await this.cache.keys()).map((r) => r.url).filter((u) => u.startsWith(prefix));
  }

  async listDirs(): Promise<string[]> {
    const out: string[] = [];
    for (const url of await this.urls(BASE)) {
      const m = /^([^/]+)\/manifest$/.exec(url.slice(BASE.length));
      if (m) out.push(m[1]!);
    }
    return out;
  }

  async readManifest(dir: string): Promise<string | null> {
    const res = await this.cache.match(manifestUrl(dir));
    return res ? res.text() : null;
  }

  async writeManifest(dir: string, text: string): Promise<void> {
    await this.cache.put(manifestUrl(dir), new Response(text, { headers: { 'content-type': 'application/json' } }));
  }

  private async pieceSize(dir: string, file: string, index: number): Promise<number | null> {
    const res = await this.cache.match(pieceUrl(dir, file, index));
    return res ? (await res.blob()).size : null;
  }

  async storedBytes(dir: string, file: string, committed: number, piece: number): Promise<number> {
    if (committed <= 0) return 0;
    // pieces are put in order, so the last one being whole means the ones before it are there too
    const last = Math.floor((committed - 1) / piece);
    const size = await this.pieceSize(dir, file, last);
    if (size === null) return 0;
    return Math.min(committed, last * piece + size);
  }

  async openWriter(dir: string, file: string, from: number, piece: number): Promise<StoreWriter> {
    let start = Math.floor(from / piece) * piece;
    let pending = new Uint8Array(piece);
    let fill = from - start;
    if (fill > 0) {
      // resuming inside a piece: that piece is put again whole, so take back what it held
      const res = await this.cache.match(pieceUrl(dir, file, start / piece));
      const held = res ? new Uint8Array(await res.arrayBuffer()) : new Uint8Array(0);
      if (held.byteLength < fill) throw new DOMException(`Piece ${start / piece} of ${file} is shorter than recorded.`, 'NotFoundError');
      pending.set(held.subarray(0, fill));
    }
    const cache = this.cache;
    const put = async (): Promise<void> => {
      await cache.put(pieceUrl(dir, file, start / piece), new Response(pending.slice(0, fill)));
    };
    return {
      async write(bytes) {
        let at = 0;
        while (at < bytes.byteLength) {
          const n = Math.min(piece - fill, bytes.byteLength - at);
          pending.set(bytes.subarray(at, at + n), fill);
          fill += n;
          at += n;
          if (fill === piece) {
            await put();
            start += piece;
            fill = 0;
          }
        }
      },
      async commit() {
        return start;
      },
      async close() {
        if (fill > 0) await put();
        const durable = start + fill;
        pending = new Uint8Array(0);
        return durable;
      },
    };
  }

  async openReader(dir: string, file: string, size: number, piece: number): Promise<StoreReader | null> {
    if (size > 0) {
      const last = Math.floor((size - 1) / piece);
      const got = await this.pieceSize(dir, file, last);
      if (got === null || last * piece + got < size) return null;
    }
    const cache = this.cache;
    let memo: { index: number; blob: Blob } | null = null;
    const blobOf = async (index: number): Promise<Blob> => {
      if (memo?.index === index) return memo.blob;
      const res = await cache.match(pieceUrl(dir, file, index));
      if (!res) throw new DOMException(`Piece ${index} of ${file} is missing from the cache.`, 'NotFoundError');
      memo = { index, blob: await res.blob() };
      return memo.blob;
    };
    return {
      async read(offset: number, length: number): Promise<Uint8Array> {
        const out = new Uint8Array(length);
        let done = 0;
        while (done < length) {
          const pos = offset + done;
          const index = Math.floor(pos / piece);
          const within = pos - index * piece;
          const n = Math.min(piece - within, length - done);
          const part = new Uint8Array(await (await blobOf(index)).slice(within, within + n).arrayBuffer());
          if (part.byteLength < n) throw new DOMException(`Piece ${index} of ${file} is shorter than recorded.`, 'NotFoundError');
          out.set(part, done);
          done += n;
        }
        return out;
      },
    };
  }

  async deleteFile(dir: string, file: string): Promise<void> {
    for (const url of await this.urls(fileUrl(dir, file))) await this.cache.delete(url);
  }

  async deleteDir(dir: string): Promise<void> {
    for (const url of await this.urls(`${BASE}${dir}/`)) await this.cache.delete(url);
  }

  async clear(): Promise<void> {
    await this.storage.delete(this.name);
    this.cache = await this.storage.open(this.name);
  }
}
