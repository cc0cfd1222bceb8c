import { HearthError } from '../errors.js';
import { missingFile, normalizeFileName, throwIfAborted, type ByteSource, type ModelSource } from './byte-source.js';
import { fetchText, headFile, HttpByteSource, type HttpOptions, type RemoteFileInfo } from './http.js';

/**
 * Files a model may have next to its weights. Where a server cannot list a folder we ask for
 * each of these by name; a GGUF file has no fixed name, so it must be named by the caller.
 */
export const KNOWN_MODEL_FILES = [
  'config.json',
  'generation_config.json',
  'model.safetensors',
  'model.safetensors.index.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.json',
  'merges.txt',
  'added_tokens.json',
  'special_tokens_map.json',
  'tokenizer.model',
  // faster-whisper's CTranslate2 weights (a Whisper folder at a plain URL)
  'model.bin',
] as const;

/** Lists a folder with sizes and hashes, or null when the server has no listing. */
export type RemoteLister = (signal?: AbortSignal) => Promise<Map<string, RemoteFileInfo> | null>;

/**
 * A folder of files behind HTTP: a Hub repo at a revision or a plain base URL. Listing comes from
 * `lister` when the server has one, otherwise from probing KNOWN_MODEL_FILES with HEAD requests.
 */
export class RemoteModelSource implements ModelSource {
  private listing: Promise<Map<string, RemoteFileInfo> | null> | null = null;
  private readonly probes = new Map<string, Promise<RemoteFileInfo | null>>();
  private readonly opened = new Map<string, HttpByteSource>();

  constructor(
    readonly id: string,
    private readonly fileUrl: (file: string) => string,
    private readonly opts: HttpOptions,
    private readonly lister: RemoteLister | null,
    readonly entry?: string,
  ) {}

  private getListing(signal?: AbortSignal): Promise<Map<string, RemoteFileInfo> | null> {
    if (!this.lister) return Promise.resolve(null);
    this.listing ??= this.lister(signal).catch((e: unknown) => {
      this.listing = null;
      throw e;
    });
    return this.listing;
  }

  private probe(file: string, signal?: AbortSignal): Promise<RemoteFileInfo | null> {
    let p = this.probes.get(file);
    if (!p) {
      p = headFile(this.fileUrl(file), file, this.opts, signal).catch((e: unknown) => {
        this.probes.delete(file);
        throw e;
      });
      this.probes.set(file, p);
    }
    return p;
  }

  private async info(file: string, signal?: AbortSignal): Promise<RemoteFileInfo | null> {
    const listing = await this.getListing(signal);
    // the listing covers the top level only; a file in a subfolder is asked for directly
    if (listing && (listing.has(file) || !file.includes('/'))) return listing.get(file) ?? null;
    return this.probe(file, signal);
  }

  async list(signal?: AbortSignal): Promise<string[]> {
    const listing = await this.getListing(signal);
    if (listing) return [...listing.keys()];
    const names: string[] = [...KNOWN_MODEL_FILES];
    if (this.entry && !names.includes(this.entry)) names.unshift(this.entry);
    const found = await Promise.all(names.map(async (f) => ((await this.probe(f, signal)) ? f : null)));
    return found.filter((f): f is string => f !== null);
  }

  async has(file: string, signal?: AbortSignal): Promise<boolean> {
    return (await this.info(normalizeFileName(file), signal)) !== null;
  }

  async open(file: string, signal?: AbortSignal): Promise<ByteSource> {
    const name = normalizeFileName(file);
    const cached = this.opened.get(name);
    if (cached) return cached;
    const info = await this.info(name, signal);
    if (!info) throw missingFile(name, this.id, 'Check the file name and revision.');
    const src = new HttpByteSource(name, this.fileUrl(name), this.opts, info);
    this.opened.set(name, src);
    return src;
  }

  async readText(file: string, signal?: AbortSignal): Promise<string> {
    throwIfAborted(signal);
    const name = normalizeFileName(file);
    const listing = await this.getListing(signal);
    if (listing && !listing.has(name) && !name.includes('/')) throw missingFile(name, this.id);
    return fetchText(this.fileUrl(name), name, this.opts, signal);
  }
}

export function invalidSpec(spec: string, why: string): HearthError {
  return new HearthError('INVALID_ARGUMENT', `${JSON.stringify(spec)} is not a model location: ${why}.`, {
    hint: 'Give a local path, an http(s) URL, or a Hugging Face repo id like owner/name.',
  });
}
