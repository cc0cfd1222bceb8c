// The weight cache driven like a model loader would drive it; runs in a page or in a worker.
import { isHearthError } from '../../../src/errors.js';
import type { ByteSource, ModelSource } from '../../../src/hub/byte-source.js';
import { openWeightCache, type WeightCacheOptions } from '../../../src/hub/cache.js';
import { hubSource } from '../../../src/hub/hf-hub.js';

export interface CacheArgs {
  backend: 'opfs' | 'cache-api';
  namespace: string;
  pieceBytes: number;
  /** A fake storage estimate; the real one otherwise. */
  space?: { quota: number; usage: number };
}

export interface LoadArgs extends CacheArgs {
  endpoint: string;
  repo: string;
  weights: string;
  /** Abort the load once this many bytes of the weight file are stored. */
  abortAt?: number;
  /** The source never answers a read at this offset of the weight file (a stalled network). */
  hangAt?: number;
}

export interface ScenarioError {
  code: string | undefined;
  message: string;
  details?: Record<string, unknown>;
}

export interface LoadResult {
  where: string;
  backend: string;
  listing: string[];
  has: { config: boolean; spm: boolean };
  configBytes: number;
  tokenizerBytes: number;
  size: number;
  digest: string;
  sha256: string | undefined;
  progress: { download: number; cache: number; maxDownloadLoaded: number; cacheLoaded: number };
}

type Emit = (event: string) => void;

async function cacheFor(args: CacheArgs) {
  const opts: WeightCacheOptions = { backend: args.backend, namespace: args.namespace, pieceBytes: args.pieceBytes };
  const space = args.space;
  if (space) opts.estimate = async () => space;
  return openWeightCache(opts);
}

/** A source whose weight-file reads at `hangAt` never finish, like a connection that went quiet. */
function hanging(source: ModelSource, file: string, hangAt: number): ModelSource {
  const wrapFile = (b: ByteSource): ByteSource => ({
    name: b.name,
    sha256: b.sha256,
    size: () => b.size(),
    read: (offset, length, signal) => (offset >= hangAt ? new Promise<Uint8Array>(() => undefined) : b.read(offset, length, signal)),
  });
  return {
    id: source.id,
    list: (s) => source.list(s),
    has: (f, s) => source.has(f, s),
    readText: (f, s) => source.readText(f, s),
    open: async (f, s) => (f === file ? wrapFile(await source.open(f, s)) : source.open(f, s)),
  };
}

function hex(buf: ArrayBuffer): string {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function load(args: LoadArgs, emit: Emit): Promise<LoadResult> {
  const cache = await cacheFor(args);
  let source = hubSource(args.repo, { endpoint: args.endpoint });
  if (args.hangAt !== undefined) source = hanging(source, args.weights, args.hangAt);
  const ctrl = new AbortController();
  const progress = { download: 0, cache: 0, maxDownloadLoaded: 0, cacheLoaded: 0 };
  const wrapped = cache.wrap(source, {
    signal: ctrl.signal,
    onProgress: (p) => {
      progress[p.phase]++;
      if (p.phase === 'cache' && p.file === args.weights) progress.cacheLoaded = p.loaded;
      if (p.phase !== 'download' || p.file !== args.weights) return;
      progress.maxDownloadLoaded = Math.max(progress.maxDownloadLoaded, p.loaded);
      if (args.abortAt !== undefined && p.loaded >= args.abortAt) ctrl.abort();
      if (args.hangAt !== undefined && p.loaded >= args.hangAt) emit('stored-up-to-hang');
    },
  });
  const listing = await wrapped.list();
  const has = { config: await wrapped.has('config.json'), spm: await wrapped.has('tokenizer.model') };
  const configBytes = (await wrapped.readText('config.json')).length;
  const tokenizerBytes = (await wrapped.readText('tokenizer.json')).length;
  const w = await wrapped.open(args.weights);
  const size = await w.size();
  // read as a loader does, tensor-sized pieces at a time, then hash independently of the cache's own sha256
  const all = new Uint8Array(size);
  for (let at = 0; at < size; at += 100_000) all.set(await w.read(at, Math.min(100_000, size - at)), at);
  const digest = hex(await crypto.subtle.digest('SHA-256', all));
  return { where: inWorker() ? 'worker' : 'page', backend: cache.backend, listing, has, configBytes, tokenizerBytes, size, digest, sha256: w.sha256, progress };
}

/** Integrity, in two steps: the listing (with its LFS oids) is taken first, the weights fetched after the test swapped them. */
const held = new Map<string, ModelSource>();

async function prepare(args: LoadArgs): Promise<string[]> {
  const cache = await cacheFor(args);
  const wrapped = cache.wrap(hubSource(args.repo, { endpoint: args.endpoint }));
  held.set(args.namespace, wrapped);
  const listing = await wrapped.list();
  await wrapped.readText('config.json');
  return listing;
}

async function openHeld(args: LoadArgs): Promise<number> {
  const w = await held.get(args.namespace)!.open(args.weights);
  return w.size();
}

async function estimate(): Promise<{ usage: number; quota: number }> {
  const e = await navigator.storage.estimate();
  return { usage: e.usage ?? -1, quota: e.quota ?? -1 };
}

/** What storage itself holds for a namespace, under the cache's back: OPFS paths or Cache API URLs. */
async function stored(args: CacheArgs): Promise<string[]> {
  if (args.backend === 'cache-api') {
    const cache = await caches.open(args.namespace);
    return (await cache.keys()).map((r) => r.url);
  }
  const out: string[] = [];
  const walk = async (dir: FileSystemDirectoryHandle, prefix: string): Promise<void> => {
    for await (const [name, h] of (dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
      if (h.kind === 'directory') await walk(h as FileSystemDirectoryHandle, `${prefix}${name}/`);
      else out.push(`${prefix}${name}`);
    }
  };
  await walk(await (await navigator.storage.getDirectory()).getDirectoryHandle(args.namespace, { create: true }), '');
  return out.sort();
}

async function run(name: string, args: LoadArgs & { key?: string }, emit: Emit): Promise<unknown> {
  switch (name) {
    case 'load':
      return load(args, emit);
    case 'prepare':
      return prepare(args);
    case 'openHeld':
      return openHeld(args);
    case 'list':
      return (await cacheFor(args)).list();
    case 'delete': {
      const cache = await cacheFor(args);
      const before = await estimate();
      await cache.delete(args.key!);
      return { before, after: await estimate(), list: await cache.list() };
    }
    case 'clear':
      return (await cacheFor(args)).clear();
    case 'estimate':
      return estimate();
    case 'stored':
      return stored(args);
    default:
      throw new Error(`no scenario ${name}`);
  }
}

function inWorker(): boolean {
  return typeof (globalThis as { document?: unknown }).document === 'undefined';
}

/** Errors cross postMessage and page.evaluate as plain data. */
export async function runScenario(name: string, args: LoadArgs & { key?: string }, emit: Emit): Promise<{ ok: true; value: unknown } | { ok: false; error: ScenarioError }> {
  try {
    return { ok: true, value: await run(name, args, emit) };
  } catch (e) {
    const error: ScenarioError = { code: isHearthError(e) ? e.code : undefined, message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
    if (isHearthError(e) && e.details) error.details = e.details;
    return { ok: false, error };
  }
}
