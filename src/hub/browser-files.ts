import { checkReadRange, decodeUtf8, missingFile, normalizeFileName, throwIfAborted, type ByteSource, type ModelSource, type ProgressSink } from './byte-source.js';

/** A File or Blob read slice by slice: the browser never loads the whole file into memory. */
export class BlobByteSource implements ByteSource {
  constructor(
    readonly name: string,
    private readonly blob: Blob,
    private readonly progress?: ProgressSink,
  ) {}

  async size(): Promise<number> {
    return this.blob.size;
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    throwIfAborted(signal);
    checkReadRange(this.name, offset, length, this.blob.size);
    const bytes = new Uint8Array(await this.blob.slice(offset, offset + length).arrayBuffer());
    throwIfAborted(signal);
    checkReadRange(this.name, offset, bytes.byteLength, this.blob.size);
    this.progress?.add(this.name, length, this.blob.size);
    return bytes;
  }
}

/** Files picked or dropped by the user; a folder pick (webkitdirectory) keeps its relative paths. */
export class FilesModelSource implements ModelSource {
  readonly id: string;
  readonly entry?: string;
  private readonly files = new Map<string, File>();

  constructor(
    files: File | readonly File[],
    private readonly progress?: ProgressSink,
  ) {
    const list = Array.isArray(files) ? (files as readonly File[]) : [files as File];
    for (const f of list) this.files.set(relativeName(f), f);
    if (!Array.isArray(files)) this.entry = relativeName(files as File);
    this.id = `files:${[...this.files.keys()].sort().join(',')}`;
  }

  async list(): Promise<string[]> {
    return [...this.files.keys()];
  }

  async has(file: string): Promise<boolean> {
    return this.files.has(normalizeFileName(file));
  }

  async open(file: string): Promise<ByteSource> {
    const name = normalizeFileName(file);
    const f = this.files.get(name);
    if (!f) throw missingFile(name, 'the chosen files', 'Choose the whole model folder, or add this file.');
    return new BlobByteSource(name, f, this.progress);
  }

  async readText(file: string, signal?: AbortSignal): Promise<string> {
    const src = await this.open(file);
    return decodeUtf8(await src.read(0, await src.size(), signal));
  }
}

function relativeName(f: File): string {
  // 'folder/sub/file' from a directory pick: the picked folder itself is the model root
  const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath;
  if (rel && rel.includes('/')) return normalizeFileName(rel.slice(rel.indexOf('/') + 1));
  return normalizeFileName(f.name);
}

/** The async-iteration part of FileSystemDirectoryHandle, which TypeScript's DOM lib leaves out without DOM.AsyncIterable. */
interface IterableDirectoryHandle {
  values(): AsyncIterable<FileSystemHandle>;
}

/** A folder opened with showDirectoryPicker() (or an OPFS directory). */
export class DirectoryHandleModelSource implements ModelSource {
  readonly id: string;

  constructor(
    private readonly dir: FileSystemDirectoryHandle,
    private readonly progress?: ProgressSink,
  ) {
    this.id = `dir:${dir.name}`;
  }

  async list(): Promise<string[]> {
    const names: string[] = [];
    for await (const h of (this.dir as unknown as IterableDirectoryHandle).values()) {
      if (h.kind === 'file') names.push(h.name);
    }
    return names.sort();
  }

  private async getFile(file: string): Promise<File | null> {
    const parts = normalizeFileName(file).split('/');
    let dir = this.dir;
    try {
      for (const p of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(p);
      return await (await dir.getFileHandle(parts[parts.length - 1]!)).getFile();
    } catch {
      return null;
    }
  }

  async has(file: string): Promise<boolean> {
    return (await this.getFile(file)) !== null;
  }

  async open(file: string, signal?: AbortSignal): Promise<ByteSource> {
    throwIfAborted(signal);
    const name = normalizeFileName(file);
    const f = await this.getFile(name);
    if (!f) throw missingFile(name, `folder ${this.dir.name}`);
    return new BlobByteSource(name, f, this.progress);
  }

  async readText(file: string, signal?: AbortSignal): Promise<string> {
    const src = await this.open(file, signal);
    return decodeUtf8(await src.read(0, await src.size(), signal));
  }
}
