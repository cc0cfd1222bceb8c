import { checkReadRange, decodeUtf8, missingFile, normalizeFileName, throwIfAborted, type ByteSource, type ModelSource } from './byte-source.js';

/** Bytes already in memory: fixtures, tests, a model generated on the fly. */
export class MemoryByteSource implements ByteSource {
  constructor(
    readonly name: string,
    private readonly bytes: Uint8Array,
  ) {}

  async size(): Promise<number> {
    return this.bytes.byteLength;
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    throwIfAborted(signal);
    checkReadRange(this.name, offset, length, this.bytes.byteLength);
    // a copy, so callers may keep or transfer it without pinning the whole file
    return this.bytes.slice(offset, offset + length);
  }
}

/** A model made of in-memory files; strings are stored as UTF-8. */
export class MemoryModelSource implements ModelSource {
  private readonly files = new Map<string, Uint8Array>();

  constructor(
    files: Record<string, Uint8Array | string>,
    readonly id = 'memory:',
    readonly entry?: string,
  ) {
    const enc = new TextEncoder();
    for (const [name, data] of Object.entries(files)) {
      this.files.set(normalizeFileName(name), typeof data === 'string' ? enc.encode(data) : data);
    }
  }

  async list(): Promise<string[]> {
    return [...this.files.keys()];
  }

  async has(file: string): Promise<boolean> {
    return this.files.has(normalizeFileName(file));
  }

  async open(file: string): Promise<ByteSource> {
    const name = normalizeFileName(file);
    const bytes = this.files.get(name);
    if (!bytes) throw missingFile(name, this.id);
    return new MemoryByteSource(name, bytes);
  }

  async readText(file: string, signal?: AbortSignal): Promise<string> {
    throwIfAborted(signal);
    const name = normalizeFileName(file);
    const bytes = this.files.get(name);
    if (!bytes) throw missingFile(name, this.id);
    return decodeUtf8(bytes);
  }
}
