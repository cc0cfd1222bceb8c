import { HearthError } from '../errors.js';
import { ProgressSink, type ModelSource, type ProgressCallback } from './byte-source.js';
import { DirectoryHandleModelSource, FilesModelSource } from './browser-files.js';
import { hubSource, parseHubSpec } from './hf-hub.js';
import type { HttpOptions } from './http.js';
import { invalidSpec } from './remote.js';
import { urlSource } from './url-source.js';

export interface ResolveOptions {
  /** Hub revision (branch, tag or commit) when the spec names none. Default 'main'. */
  revision?: string;
  /** Hub endpoint, for a mirror. Default https://huggingface.co. */
  endpoint?: string;
  fetch?: typeof fetch;
  /** Bytes loaded per file, as reads complete (HTTP: as data arrives). */
  onProgress?: ProgressCallback;
  /** Hub access token for gated or private repos, sent as a Bearer token. */
  token?: string;
  headers?: Record<string, string>;
  /** A request that receives nothing for this long fails with NETWORK. Default 60 s. */
  timeoutMs?: number;
  /** Retries of transient HTTP failures. Default 2. */
  retries?: number;
}

export type ModelSpec = string | File | File[] | FileSystemDirectoryHandle | ModelSource;

/**
 * Turns what a user gives us into a ModelSource, by its shape: a File, File[] or directory handle
 * (browser); an http(s) URL; a local path that exists (Node); otherwise a Hub repo id
 * ('owner/name', 'owner/name@rev', 'owner/name/file.gguf').
 */
export async function resolveModelSource(spec: ModelSpec, opts: ResolveOptions = {}): Promise<ModelSource> {
  const progress = opts.onProgress ? new ProgressSink(opts.onProgress) : undefined;
  if (typeof spec !== 'string') return resolveObject(spec, progress);
  const s = spec.trim();
  if (s === '') throw invalidSpec(spec, 'it is empty');
  const http: HttpOptions = {
    fetch: opts.fetch,
    headers: { ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}), ...opts.headers },
    timeoutMs: opts.timeoutMs,
    retries: opts.retries,
    progress,
  };
  if (/^https?:\/\//i.test(s)) {
    try {
      return urlSource(s, http);
    } catch (e) {
      throw new HearthError('INVALID_ARGUMENT', `${JSON.stringify(spec)} is not a valid URL.`, { cause: e });
    }
  }
  if (isNode()) {
    const { localSource } = await import('./node-fs.js');
    const local = await localSource(s, progress);
    if (local) return local;
    if (looksLikePath(s)) {
      const why = parseHubSpec(s) ? '' : ', and it is not a Hub repo id';
      throw new HearthError('MISSING_FILE', `No file or folder at ${s}${why}.`, { hint: 'Check the path, or give a Hugging Face repo id like owner/name.', details: { path: s } });
    }
  }
  const hub = parseHubSpec(s);
  if (!hub) throw invalidSpec(spec, isNode() ? 'no such file or folder, and not a Hub repo id' : 'not a URL or a Hub repo id');
  return hubSource(hub.repo, { ...http, revision: hub.revision ?? opts.revision, endpoint: opts.endpoint, entry: hub.file });
}

function resolveObject(spec: Exclude<ModelSpec, string>, progress: ProgressSink | undefined): ModelSource {
  if (Array.isArray(spec)) return new FilesModelSource(spec, progress);
  if (typeof File !== 'undefined' && spec instanceof File) return new FilesModelSource(spec, progress);
  if ('kind' in spec && spec.kind === 'directory') return new DirectoryHandleModelSource(spec, progress);
  if ('open' in spec && typeof spec.open === 'function' && 'list' in spec) return spec;
  throw new HearthError('INVALID_ARGUMENT', 'Unrecognized model source object.', {
    hint: 'Pass a path, URL, Hub repo id, File, File[], or FileSystemDirectoryHandle.',
  });
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/** Strings that are surely meant as local paths, so a typo does not turn into a Hub request. */
function looksLikePath(s: string): boolean {
  if (/^(\.{0,2}[/\\]|[A-Za-z]:[/\\]|~|file:)/.test(s)) return true;
  // 'models/x.gguf' is a path; 'owner/name/x.gguf' names a file in a Hub repo
  if (s.split('/').length <= 2 && /\.(gguf|safetensors|json|bin)$/i.test(s)) return true;
  return parseHubSpec(s) === null;
}
