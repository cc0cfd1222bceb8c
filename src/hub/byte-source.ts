import { HearthError } from '../errors.js';

/**
 * Random access to the bytes of one file, wherever it lives. Model files are read a header or a
 * tensor at a time, never whole: a 4 GB file must not pass through one JS buffer.
 */
export interface ByteSource {
  /** The file's name inside its model source, for messages. */
  readonly name: string;
  size(): Promise<number>;
  /**
   * Exactly `length` bytes from `offset`. Throws TRUNCATED_FILE if the file ends sooner,
   * ABORTED if `signal` fires.
   */
  read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array>;
  /** Hex sha256 of the whole file, when the source knows it without reading (the Hub's LFS oid). */
  readonly sha256?: string;
}

/** A set of files that together make a model: a directory, a Hub repo, a folder URL, dropped files. */
export interface ModelSource {
  /** Stable identity, e.g. 'hf:owner/name@rev', 'file:/abs/path', or the URL: a cache key. */
  readonly id: string;
  /** The weight file the user named, when they named a file rather than a folder or repo. */
  readonly entry?: string;
  /** File names (relative, '/'-separated) that are known to exist. May be partial where a source cannot list. */
  list(signal?: AbortSignal): Promise<string[]>;
  has(file: string, signal?: AbortSignal): Promise<boolean>;
  /** Throws MISSING_FILE when the file does not exist. */
  open(file: string, signal?: AbortSignal): Promise<ByteSource>;
  readText(file: string, signal?: AbortSignal): Promise<string>;
}

export interface ProgressEvent {
  file: string;
  loaded: number;
  total: number;
}

export type ProgressCallback = (p: ProgressEvent) => void;

export function abortError(signal?: AbortSignal): HearthError {
  const reason: unknown = signal?.reason;
  return new HearthError('ABORTED', 'The operation was aborted.', { cause: reason });
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw abortError(signal);
}

/** Checks a read request against the file size: the one place that decides what "truncated" means. */
export function checkReadRange(name: string, offset: number, length: number, size: number): void {
  if (!(Number.isSafeInteger(offset) && offset >= 0 && Number.isSafeInteger(length) && length >= 0)) {
    throw new HearthError('INVALID_ARGUMENT', `Invalid read of ${name}: offset ${offset}, length ${length}.`);
  }
  if (offset + length > size) {
    throw new HearthError('TRUNCATED_FILE', `${name} is truncated: needed bytes up to ${offset + length}, but the file has ${size}.`, {
      hint: 'Download the file again; it may be incomplete.',
      details: { file: name, size, needed: offset + length },
    });
  }
}

export function missingFile(file: string, where: string, hint?: string): HearthError {
  return new HearthError('MISSING_FILE', `${file} was not found in ${where}.`, { hint, details: { file, where } });
}

/** Per-file byte counters behind the onProgress callback. Loaded never exceeds total. */
export class ProgressSink {
  private loaded = new Map<string, number>();
  constructor(private readonly onProgress: ProgressCallback) {}

  add(file: string, bytes: number, total: number): void {
    const loaded = Math.min(total, (this.loaded.get(file) ?? 0) + bytes);
    this.loaded.set(file, loaded);
    try {
      this.onProgress({ file, loaded, total });
    } catch {
      // a throwing progress listener must not break a download
    }
  }
}

const decoder = new TextDecoder('utf-8', { fatal: false });

export function decodeUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** Reads a whole (small) file as text: config and tokenizer files, never weights. */
export async function readAllText(source: ByteSource, signal?: AbortSignal): Promise<string> {
  const size = await source.size();
  return decodeUtf8(await source.read(0, size, signal));
}

/** Normalizes a relative file name: '/'-separated, no leading './' or '/', no '..'. */
export function normalizeFileName(file: string): string {
  const parts = file.replace(/\\/g, '/').split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) {
    throw new HearthError('INVALID_ARGUMENT', `File name ${JSON.stringify(file)} leaves its model folder.`);
  }
  return parts.join('/');
}
