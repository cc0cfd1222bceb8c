/**
 * Local files in Node. Only this module touches node:fs, and only Node code paths load it
 * (resolveModelSource imports it dynamically), so the browser build never needs it.
 */
import { open, readdir, stat } from 'node:fs/promises';
import * as nodePath from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HearthError } from '../errors.js';
import { checkReadRange, decodeUtf8, missingFile, normalizeFileName, throwIfAborted, type ByteSource, type ModelSource, type ProgressSink } from './byte-source.js';

/** Large reads go in pieces so an abort is noticed between them. */
const READ_PIECE = 64 * 1024 * 1024;

export class NodeFileByteSource implements ByteSource {
  private sizeCache: number | undefined;

  constructor(
    readonly name: string,
    readonly path: string,
    private readonly progress?: ProgressSink,
  ) {}

  async size(): Promise<number> {
    return (await statOrMissing(this.path, this.name)).size;
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    throwIfAborted(signal);
    checkReadRange(this.name, offset, length, Number.MAX_SAFE_INTEGER);
    const out = new Uint8Array(length);
    // opened per read: no handle outlives a call, so nothing needs closing
    const fh = await open(this.path, 'r').catch((e: unknown) => {
      throw fsError(e, this.path, this.name);
    });
    try {
      let got = 0;
      while (got < length) {
        throwIfAborted(signal);
        const n = Math.min(READ_PIECE, length - got);
        const { bytesRead } = await fh.read(out, got, n, offset + got);
        if (bytesRead === 0) {
          const { size } = await fh.stat();
          checkReadRange(this.name, offset, length, size);
          throw new HearthError('TRUNCATED_FILE', `${this.name} ended while reading it.`);
        }
        got += bytesRead;
        this.progress?.add(this.name, bytesRead, await this.cachedSize(fh));
      }
      return out;
    } finally {
      await fh.close();
    }
  }

  private async cachedSize(fh: { stat(): Promise<{ size: number }> }): Promise<number> {
    this.sizeCache ??= (await fh.stat()).size;
    return this.sizeCache;
  }
}

/**
 * A directory of model files, or one weight file (then `entry` names it and its folder supplies
 * config and tokenizer files).
 */
export class NodeDirectorySource implements ModelSource {
  readonly id: string;

  constructor(
    readonly dir: string,
    readonly entry?: string,
    private readonly progress?: ProgressSink,
  ) {
    this.id = entry ? pathToFileURL(nodePath.join(dir, entry)).toString() : pathToFileURL(dir).toString();
  }

  private pathOf(file: string): string {
    return nodePath.join(this.dir, ...normalizeFileName(file).split('/'));
  }

  async list(): Promise<string[]> {
    const entries = await readdir(this.dir, { withFileTypes: true });
    return entries.filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name).sort();
  }

  async has(file: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(file))).isFile();
    } catch {
      return false;
    }
  }

  async open(file: string): Promise<ByteSource> {
    const name = normalizeFileName(file);
    const p = this.pathOf(name);
    const s = await statOrMissing(p, name, this.dir);
    if (!s.isFile()) throw missingFile(name, this.dir, `${p} is not a file.`);
    return new NodeFileByteSource(name, p, this.progress);
  }

  async readText(file: string, signal?: AbortSignal): Promise<string> {
    const src = await this.open(file);
    return decodeUtf8(await src.read(0, await src.size(), signal));
  }
}

/** A model source for a local path, or null when nothing exists there. */
export async function localSource(path: string, progress?: ProgressSink): Promise<ModelSource | null> {
  const abs = nodePath.resolve(path.startsWith('file:') ? fileURLToPath(path) : path);
  let s;
  try {
    s = await stat(abs);
  } catch {
    return null;
  }
  if (s.isDirectory()) return new NodeDirectorySource(abs, undefined, progress);
  return new NodeDirectorySource(nodePath.dirname(abs), nodePath.basename(abs), progress);
}

async function statOrMissing(p: string, name: string, where = nodePath.dirname(p)) {
  try {
    return await stat(p);
  } catch (e) {
    throw fsError(e, p, name, where);
  }
}

function fsError(e: unknown, p: string, name: string, where = nodePath.dirname(p)): HearthError {
  const code = (e as { code?: unknown }).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return missingFile(name, where);
  return new HearthError('MISSING_FILE', `Could not read ${p}: ${e instanceof Error ? e.message : String(e)}`, { cause: e, details: { path: p, code } });
}
