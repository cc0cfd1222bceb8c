/**
 * engine.sessions: conversations kept on the user's device with the KV cache of their tokens, so
 * a conversation resumed after a reload prefills only its newest message.
 *
 * A turn: read the newest manifest; refuse a session whose KV belongs to another model; render
 * the conversation; keep the stored KV up to the first token that differs from the new prompt;
 * load into the engine whatever part of that the engine does not already hold; generate (the
 * engine's prefix reuse then prefills only the rest); write the KV of the new positions as one
 * chunk, then a new manifest. The manifest is written last under a new generation number and the
 * previous one is kept, so a crash at any point leaves the last complete turn readable.
 */
import { HearthError } from '../errors.js';
import type { Engine, GenerateResult } from '../engine/engine.js';
import { CallTextGate, constraintOf, generateWith, responseFormatGrammar, toGenerateRequest, toolCallDeltas, toolPlan, toolReply } from '../api/openai.js';
import { checkTools, toolFormatOf } from '../api/tools.js';
import { grammarOfResponseFormat } from '../api/structured.js';
import { withLock } from '../hub/cache-store.js';
import { formatBytes } from '../util/bytes.js';
import type { ChatMessage } from '../tokenizer/index.js';
import { packArchive, unpackArchive, type ArchiveFile } from './archive.js';
import { checkMessages, chunkOf, completionId, completionOf, renderPrompt, storedMessage } from './chat.js';
import { checkKey, isEncrypted, seal, sha256Hex, unseal } from './envelope.js';
import { describeMismatch, type ModelIdentity } from '../engine/identity.js';
import { bytesPerToken, decodeKv, encodeKv, KV_FORMATS, subSlice, type KvFormat, type KvShape } from './kv-codec.js';
import { CHUNK_ROLE, chunkName, encodeManifest, MANIFEST_ROLE, manifestName, parseManifest, parseName, type ChunkRef, type JsonValue, type Manifest } from './manifest.js';
import { pushToPull } from '../util/push-stream.js';
import type { SessionStore, StoredFile } from './store.js';
import type {
  CreateSessionOptions,
  RestoreResult,
  Session,
  SessionChatChunk,
  SessionChatCompletion,
  SessionChatParams,
  SessionInfo,
  SessionListEntry,
  SessionRequestOptions,
  SessionsApi,
  SessionsConfig,
  SessionStorageInfo,
  SessionTurnInfo,
  UpdateSessionOptions,
} from './types.js';

export interface SessionsOptions extends SessionsConfig {
  store: SessionStore;
  /** The engine turns run on; null while no model is loaded (sessions can still be listed, read, exported). */
  engine: () => Engine | null;
  /** The model name completions report. */
  modelName?: () => string;
  /** Bytes free for new files; default: what the store says. Tests inject a shortfall here. */
  free?: () => Promise<number | null>;
  /** Web Lock names start with this; distinct stores in one origin need distinct prefixes. */
  lockPrefix?: string;
}

interface Loaded {
  id: string;
  manifest: Manifest;
  manifestFile: string;
  encrypted: boolean;
  files: StoredFile[];
  /** Highest generation any file of the session carries (torn leftovers included). */
  maxGen: number;
  problems: string[];
  /** Newer manifests could not be read. */
  recovered: boolean;
  /** Chunks whose files are missing or have the wrong size. */
  damaged: boolean;
}

interface NewChunk {
  sealed: Uint8Array;
  ref: ChunkRef;
}

/** A stream left early aborts its turn with this. */
const closed = () => new HearthError('ABORTED', 'The stream was closed by the caller.');

const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

function newId(): string {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (typeof c?.randomUUID === 'function') return c.randomUUID();
  const b = new Uint8Array(16);
  if (c) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

function commonPrefix(a: readonly number[], b: readonly number[], limit = Infinity): number {
  const n = Math.min(a.length, b.length, limit);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

function notFound(id: string): HearthError {
  return new HearthError('SESSION_NOT_FOUND', `There is no session ${JSON.stringify(id)}.`, { hint: 'List the stored sessions with sessions.list().', details: { id } });
}

function checkId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !ID.test(id)) {
    throw new HearthError('INVALID_ARGUMENT', `${JSON.stringify(id)} is not a session id.`, { hint: 'Use an id from sessions.create() or sessions.list().' });
  }
}

function checkTitle(title: unknown): void {
  if (title !== undefined && (typeof title !== 'string' || title.length > 500)) {
    throw new HearthError('INVALID_ARGUMENT', 'A session title must be a string of at most 500 characters.');
  }
}

function checkMetadata(metadata: unknown): void {
  if (metadata === undefined) return;
  let ok = !!metadata && typeof metadata === 'object' && !Array.isArray(metadata);
  if (ok) {
    try {
      ok = JSON.stringify(metadata).length <= 64 * 1024;
    } catch {
      ok = false;
    }
  }
  if (!ok) throw new HearthError('INVALID_ARGUMENT', 'Session metadata must be a plain object of JSON values (at most 64 KiB as JSON).');
}

function checkFormat(f: unknown): asserts f is KvFormat {
  if (!KV_FORMATS.includes(f as KvFormat)) throw new HearthError('INVALID_ARGUMENT', `kvFormat must be one of ${KV_FORMATS.join(', ')}, not ${JSON.stringify(f)}.`);
}

const titleFrom = (messages: ChatMessage[]) => {
  const first = messages.find((m) => m.role === 'user') ?? messages[0];
  const t = (first?.content ?? '').replace(/\s+/g, ' ').trim();
  return t.length > 60 ? `${t.slice(0, 59)}…` : t;
};

function shapeOf(engine: Engine): KvShape {
  return { layers: engine.config.numLayers, kvHeads: engine.config.numKvHeads, headDim: engine.config.headDim };
}

export class Sessions implements SessionsApi {
  private key: CryptoKey | null;
  private kvFormat: KvFormat;
  private readonly store: SessionStore;
  private readonly lockPrefix: string;
  /** Writes in progress in this context, so that reads here never see a half-written manifest. */
  private readonly writing = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: SessionsOptions) {
    this.store = opts.store;
    this.lockPrefix = opts.lockPrefix ?? `hearth-session:${opts.store.kind}`;
    if (opts.key) checkKey(opts.key);
    this.key = opts.key ?? null;
    if (opts.kvFormat !== undefined) checkFormat(opts.kvFormat);
    this.kvFormat = opts.kvFormat ?? 'f32';
  }

  async configure(config: SessionsConfig): Promise<void> {
    if (config.key) checkKey(config.key);
    if (config.kvFormat !== undefined) checkFormat(config.kvFormat);
    if (config.key !== undefined) this.key = config.key;
    if (config.kvFormat !== undefined) this.kvFormat = config.kvFormat;
  }

  async storage(): Promise<SessionStorageInfo> {
    return { backend: this.store.kind, kvFormat: this.kvFormat, encrypted: !!this.key, freeBytes: await this.free() };
  }

  private free(): Promise<number | null> {
    return (this.opts.free ?? (() => this.store.free()))();
  }

  private lock<T>(id: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    return withLock(`${this.lockPrefix}:${id}`, signal, fn);
  }

  private engine(): Engine {
    const e = this.opts.engine();
    if (!e) throw new HearthError('ENGINE_UNLOADED', 'No model is loaded.', { hint: 'Load a model (createEngine) to continue a session; listing, reading and exporting work without one.' });
    return e;
  }

  // ---- reading ----

  private async load(id: string): Promise<Loaded> {
    checkId(id);
    await this.writing.get(id);
    const files = await this.store.listFiles(id);
    if (!files) throw notFound(id);
    let maxGen = 0;
    const manifests: { name: string; gen: number }[] = [];
    for (const f of files) {
      const p = parseName(f.name);
      if (!p) continue;
      maxGen = Math.max(maxGen, p.gen);
      if (p.kind === 'manifest') manifests.push({ name: f.name, gen: p.gen });
    }
    if (!manifests.length) {
      if (!files.length) throw notFound(id);
      throw new HearthError('SESSION_CORRUPT', `Session ${id} has no manifest.`, { hint: 'It was never completely written; delete it.', details: { id } });
    }
    manifests.sort((a, b) => b.gen - a.gen);
    const problems: string[] = [];
    let last: unknown = null;
    for (const m of manifests) {
      const what = `Session ${id}: ${m.name}`;
      try {
        const bytes = await this.store.read(id, m.name);
        if (!bytes) continue;
        const manifest = parseManifest(await unseal(bytes, this.key, MANIFEST_ROLE, what), what);
        if (manifest.gen !== m.gen) throw new HearthError('SESSION_CORRUPT', `${what} claims generation ${manifest.gen}.`);
        const sizes = new Map(files.map((f) => [f.name, f.size]));
        let damaged = false;
        for (const c of manifest.chunks) {
          if (sizes.get(c.file) !== c.bytes) {
            damaged = true;
            problems.push(`KV chunk ${c.file} (positions ${c.start}..${c.end}) is ${sizes.has(c.file) ? 'the wrong size' : 'missing'}.`);
          }
        }
        return { id, manifest, manifestFile: m.name, encrypted: isEncrypted(bytes), files, maxGen, problems, recovered: manifest.gen !== manifests[0]!.gen, damaged };
      } catch (e) {
        // without the key nothing is readable: say so rather than calling it damaged
        if (e instanceof HearthError && e.code === 'INVALID_ARGUMENT') throw e;
        last = e;
        problems.push(e instanceof Error ? e.message : String(e));
      }
    }
    if (last instanceof HearthError && last.code === 'SESSION_CORRUPT') {
      throw new HearthError('SESSION_CORRUPT', `Session ${id} cannot be read: ${last.message}`, { hint: last.hint, details: { id, problems } });
    }
    throw new HearthError('SESSION_CORRUPT', `Session ${id} cannot be read.`, { hint: 'Delete it.', cause: last, details: { id, problems } });
  }

  private info(l: Loaded): SessionInfo {
    const m = l.manifest;
    const engine = this.opts.engine();
    const last = m.messages[m.messages.length - 1];
    const preview = (last?.content ?? '').replace(/\s+/g, ' ').trim().slice(0, 120);
    return {
      id: l.id,
      status: l.damaged ? 'damaged' : l.recovered ? 'recovered' : 'ok',
      problems: l.problems,
      generation: m.gen,
      title: m.title || titleFrom(m.messages),
      createdAt: m.createdAt,
      updatedAt: m.updatedAt,
      messageCount: m.messages.length,
      preview,
      storedTokens: m.tokens.length,
      bytes: l.files.reduce((s, f) => s + f.size, 0),
      model: m.model,
      compatible: !engine ? null : m.tokens.length === 0 || !m.model || m.model.fingerprint === engine.identity.fingerprint,
      encrypted: l.encrypted,
      kvFormat: m.chunks.length ? m.chunks[m.chunks.length - 1]!.format : null,
      metadata: m.metadata,
    };
  }

  async list(): Promise<SessionListEntry[]> {
    const out: SessionListEntry[] = [];
    for (const id of await this.store.listSessions()) {
      if (!ID.test(id)) continue;
      try {
        out.push(this.info(await this.load(id)));
      } catch (e) {
        if (e instanceof HearthError && e.code === 'SESSION_NOT_FOUND') continue;
        const err = e instanceof HearthError ? { code: e.code, message: e.message } : { code: 'INTERNAL' as const, message: String(e) };
        out.push({ id, status: 'unreadable', error: err });
      }
    }
    const time = (e: SessionListEntry) => (e.status === 'unreadable' ? -1 : e.updatedAt);
    return out.sort((a, b) => time(b) - time(a));
  }

  async get(id: string): Promise<Session> {
    const l = await this.load(id);
    return { ...this.info(l), messages: l.manifest.messages.map((m) => ({ ...m })) };
  }

  // ---- writing ----

  private async sealChunk(gen: number, slice: Parameters<typeof encodeKv>[0], shape: KvShape): Promise<NewChunk> {
    const sealed = await seal(encodeKv(slice, shape, this.kvFormat), this.key, CHUNK_ROLE);
    return { sealed, ref: { file: chunkName(gen), start: slice.start, end: slice.end, fileEnd: slice.end, format: this.kvFormat, bytes: sealed.byteLength, digest: await sha256Hex(sealed) } };
  }

  private async quotaError(needed: number, free: number | null, cause?: unknown, details: Record<string, unknown> = {}): Promise<HearthError> {
    const have = free === null ? '' : `; ${formatBytes(free)} is free`;
    return new HearthError('QUOTA_EXCEEDED', `Not enough storage to save this session turn: it needs ${formatBytes(needed)}${have}. The session keeps its previous state.`, {
      hint: 'Delete sessions (or cached models) you no longer need, store KV compressed (kvFormat f16 or q8), or free disk space.',
      cause,
      details: { needed, free, ...details },
    });
  }

  /**
   * Writes `chunk` (when given), then the manifest as generation `gen`, then removes files no longer
   * needed: everything but this manifest, the one it replaces, and their chunks.
   */
  private async commit(l: Loaded, gen: number, next: Omit<Manifest, 'gen'>, chunk: NewChunk | null, details?: Record<string, unknown>): Promise<{ manifest: Manifest; bytes: number }> {
    const manifest: Manifest = { ...next, gen };
    const mBytes = await seal(encodeManifest(manifest), this.key, MANIFEST_ROLE);
    const needed = mBytes.byteLength + (chunk?.sealed.byteLength ?? 0);
    const free = await this.free();
    if (free !== null && needed > free) throw await this.quotaError(needed, free, undefined, details);
    const mName = manifestName(gen);
    const work = (async () => {
      try {
        if (chunk) await this.store.write(l.id, chunk.ref.file, chunk.sealed);
        await this.store.write(l.id, mName, mBytes);
      } catch (e) {
        // what was stored before is untouched: only files of the new generation were written
        await this.store.remove(l.id, mName).catch(() => undefined);
        if (chunk) await this.store.remove(l.id, chunk.ref.file).catch(() => undefined);
        if (e instanceof HearthError && e.code === 'QUOTA_EXCEEDED') throw await this.quotaError(needed, await this.free(), e, details);
        throw e;
      }
    })();
    this.writing.set(l.id, work.catch(() => undefined));
    try {
      await work;
    } finally {
      this.writing.delete(l.id);
    }
    const keep = new Set([mName, l.manifestFile, ...manifest.chunks.map((c) => c.file), ...l.manifest.chunks.map((c) => c.file)]);
    for (const f of l.files) {
      if (parseName(f.name) && !keep.has(f.name)) await this.store.remove(l.id, f.name).catch(() => undefined);
    }
    return { manifest, bytes: needed };
  }

  async create(opts: CreateSessionOptions = {}): Promise<SessionInfo> {
    checkTitle(opts.title);
    checkMetadata(opts.metadata);
    if (opts.messages !== undefined) checkMessages(opts.messages, 'messages');
    const id = newId();
    const now = Date.now();
    const empty: Loaded = {
      id,
      manifest: { format: 'hearth-session', version: 1, gen: 0, title: '', createdAt: now, updatedAt: now, metadata: {}, model: null, messages: [], tokens: [], chunks: [] },
      manifestFile: '',
      encrypted: false,
      files: [],
      maxGen: 0,
      problems: [],
      recovered: false,
      damaged: false,
    };
    const next: Omit<Manifest, 'gen'> = {
      ...empty.manifest,
      title: opts.title ?? '',
      metadata: (opts.metadata ?? {}) as Manifest['metadata'],
      messages: (opts.messages ?? []).map(storedMessage),
    };
    await this.lock(id, undefined, () => this.commit(empty, 1, next, null));
    return this.info(await this.load(id));
  }

  async update(id: string, patch: UpdateSessionOptions): Promise<SessionInfo> {
    checkId(id);
    checkTitle(patch?.title);
    checkMetadata(patch?.metadata);
    if (patch?.messages !== undefined) checkMessages(patch.messages, 'messages');
    return this.lock(id, undefined, async () => {
      const l = await this.load(id);
      const m = l.manifest;
      const next: Omit<Manifest, 'gen'> = {
        ...m,
        title: patch.title ?? m.title,
        metadata: (patch.metadata ?? m.metadata) as Manifest['metadata'],
        messages: patch.messages ? patch.messages.map(storedMessage) : m.messages,
        updatedAt: Date.now(),
      };
      await this.commit(l, l.maxGen + 1, next, null);
      return this.info(await this.load(id));
    });
  }

  async delete(id: string): Promise<void> {
    checkId(id);
    await this.lock(id, undefined, async () => {
      if (!(await this.store.listFiles(id))) throw notFound(id);
      await this.store.removeSession(id);
    });
  }

  // ---- KV ----

  /** Reads a chunk and checks it end to end: size, digest, envelope, header, and its tokens against the manifest. */
  private async readChunk(l: Loaded, c: ChunkRef, shape: KvShape | null): Promise<ReturnType<typeof decodeKv> | null> {
    const what = `Session ${l.id}: KV chunk ${c.file} (positions ${c.start}..${c.end})`;
    const bad = (why: string) =>
      new HearthError('SESSION_CORRUPT', `${what} ${why}.`, {
        hint: 'Call sessions.repair(id) to drop the damaged KV (the messages are kept and re-prefilled on the next turn), or delete the session.',
        details: { id: l.id, file: c.file, validTokens: c.start },
      });
    const bytes = await this.store.read(l.id, c.file);
    if (!bytes) throw bad('is missing');
    if (bytes.byteLength !== c.bytes || (await sha256Hex(bytes)) !== c.digest) throw bad('does not match its manifest entry (damaged or cut short)');
    let payload: Uint8Array;
    try {
      payload = await unseal(bytes, this.key, CHUNK_ROLE, what);
    } catch (e) {
      if (e instanceof HearthError && e.code === 'INVALID_ARGUMENT') throw e;
      throw bad('cannot be opened');
    }
    if (!shape) return null;
    let d: ReturnType<typeof decodeKv>;
    try {
      d = decodeKv(payload, shape, { start: c.start, end: c.fileEnd });
    } catch (e) {
      throw bad(`is damaged: ${e instanceof Error ? e.message : String(e)}`);
    }
    const want = l.manifest.tokens.slice(c.start, c.end);
    if (want.some((t, i) => d.slice.tokens[i] !== t)) throw bad('holds other tokens than its manifest');
    return d;
  }

  /**
   * Makes the engine hold the session's KV for positions [0, upTo), loading only what its live
   * cache does not already hold. The engine writes it all in one queued step that first checks
   * the live part is still there (another request may have run meanwhile); when it is not, the
   * whole range is loaded instead. Returns how many positions were loaded.
   */
  private async restoreInto(engine: Engine, l: Loaded, upTo: number): Promise<number> {
    const tokens = l.manifest.tokens.slice(0, upTo);
    let live = commonPrefix(engine.cachedTokens, tokens);
    if (live >= upTo) return 0;
    const shape = shapeOf(engine);
    for (;;) {
      const slices = [];
      for (const c of l.manifest.chunks) {
        if (c.end <= live || c.start >= upTo) continue;
        const d = (await this.readChunk(l, c, shape))!;
        slices.push(subSlice(d.slice, shape, Math.max(c.start, live), Math.min(c.end, upTo)));
      }
      if (await engine.restoreKv(tokens, live, slices)) return upTo - live;
      live = 0;
    }
  }

  private checkModel(l: Loaded, engine: Engine): void {
    const m = l.manifest;
    if (!m.model || m.tokens.length === 0) return;
    const loaded = engine.identity;
    if (m.model.fingerprint === loaded.fingerprint) return;
    throw new HearthError('SESSION_MODEL_MISMATCH', `Session ${l.id} was computed by another model than the one loaded (${describeMismatch(m.model, loaded)}); its stored KV cache cannot be reused.`, {
      hint: `Load ${m.model.source} (dtype ${m.model.dtype}) to continue it, or start a new session from its messages: sessions.create({ messages: (await sessions.get(id)).messages }).`,
      details: { id: l.id, session: m.model as unknown as Record<string, unknown>, loaded: loaded as unknown as Record<string, unknown> },
    });
  }

  async restore(id: string): Promise<RestoreResult> {
    checkId(id);
    const engine = this.engine();
    return this.lock(id, undefined, async () => {
      const t0 = performance.now();
      const l = await this.load(id);
      this.checkModel(l, engine);
      const upTo = Math.min(l.manifest.tokens.length, engine.contextLength - 1);
      const restoredTokens = await this.restoreInto(engine, l, upTo);
      return { restoredTokens, liveTokens: upTo, ms: performance.now() - t0 };
    });
  }

  async repair(id: string): Promise<SessionInfo> {
    checkId(id);
    return this.lock(id, undefined, async () => {
      const l = await this.load(id);
      const m = l.manifest;
      const engine = this.opts.engine();
      const shape = engine && (!m.model || m.model.fingerprint === engine.identity.fingerprint) ? shapeOf(engine) : null;
      let good = m.chunks.length;
      for (let i = 0; i < m.chunks.length; i++) {
        try {
          await this.readChunk(l, m.chunks[i]!, shape);
        } catch (e) {
          if (e instanceof HearthError && e.code === 'SESSION_CORRUPT') {
            good = i;
            break;
          }
          throw e;
        }
      }
      if (good === m.chunks.length && !l.recovered) return this.info(l);
      const cut = good < m.chunks.length ? m.chunks[good]!.start : m.tokens.length;
      await this.commit(l, l.maxGen + 1, { ...m, tokens: m.tokens.slice(0, cut), chunks: m.chunks.slice(0, good), updatedAt: Date.now() }, null);
      return this.info(await this.load(id));
    });
  }

  // ---- export / import ----

  async export(id: string): Promise<Blob> {
    checkId(id);
    return this.lock(id, undefined, async () => {
      const l = await this.load(id);
      const files: ArchiveFile[] = [{ name: l.manifestFile, bytes: (await this.store.read(id, l.manifestFile))! }];
      for (const c of l.manifest.chunks) {
        await this.readChunk(l, c, null);
        files.push({ name: c.file, bytes: (await this.store.read(id, c.file))! });
      }
      return new Blob([packArchive(files) as Uint8Array<ArrayBuffer>], { type: 'application/x-hearth-session' });
    });
  }

  async import(data: Blob | ArrayBuffer | Uint8Array): Promise<SessionInfo> {
    let bytes: Uint8Array;
    if (data instanceof Uint8Array) bytes = data;
    else if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
    else if (data && typeof (data as Blob).arrayBuffer === 'function') bytes = new Uint8Array(await (data as Blob).arrayBuffer());
    else throw new HearthError('INVALID_ARGUMENT', 'import() takes a Blob, an ArrayBuffer or a Uint8Array from sessions.export().');
    const files = unpackArchive(bytes);
    const head = files[0]!;
    const gen = parseName(head.name);
    if (!gen || gen.kind !== 'manifest') throw new HearthError('SESSION_CORRUPT', 'This session file does not start with a manifest.', { hint: 'Import a file made by sessions.export().' });
    const what = `The imported session's ${head.name}`;
    const m = parseManifest(await unseal(head.bytes, this.key, MANIFEST_ROLE, what), what);
    const byName = new Map(files.map((f) => [f.name, f.bytes]));
    const chunks: NewChunk[] = [];
    for (const c of m.chunks) {
      const b = byName.get(c.file);
      const cw = `The imported session's KV chunk ${c.file}`;
      if (!b || b.byteLength !== c.bytes || (await sha256Hex(b)) !== c.digest) {
        throw new HearthError('SESSION_CORRUPT', `${cw} is missing or damaged.`, { hint: 'Export the session again.' });
      }
      // stored the way this engine stores: encrypted with its key, or not at all
      const sealed = await seal(await unseal(b, this.key, CHUNK_ROLE, cw), this.key, CHUNK_ROLE);
      chunks.push({ sealed, ref: { ...c, bytes: sealed.byteLength, digest: await sha256Hex(sealed) } });
    }
    const id = newId();
    const manifest: Manifest = { ...m, chunks: chunks.map((c) => c.ref) };
    const mBytes = await seal(encodeManifest(manifest), this.key, MANIFEST_ROLE);
    const needed = mBytes.byteLength + chunks.reduce((s, c) => s + c.sealed.byteLength, 0);
    const free = await this.free();
    if (free !== null && needed > free) throw await this.quotaError(needed, free);
    await this.lock(id, undefined, async () => {
      try {
        for (const c of chunks) await this.store.write(id, c.ref.file, c.sealed);
        await this.store.write(id, manifestName(m.gen), mBytes);
      } catch (e) {
        await this.store.removeSession(id).catch(() => undefined);
        if (e instanceof HearthError && e.code === 'QUOTA_EXCEEDED') throw await this.quotaError(needed, await this.free(), e);
        throw e;
      }
    });
    return this.info(await this.load(id));
  }

  // ---- chat ----

  chat(id: string, params: SessionChatParams & { stream: true }, options?: SessionRequestOptions): Promise<AsyncIterable<SessionChatChunk>>;
  chat(id: string, params: SessionChatParams & { stream?: false | null }, options?: SessionRequestOptions): Promise<SessionChatCompletion>;
  chat(id: string, params: SessionChatParams, options?: SessionRequestOptions): Promise<SessionChatCompletion | AsyncIterable<SessionChatChunk>>;
  async chat(id: string, params: SessionChatParams, options?: SessionRequestOptions): Promise<SessionChatCompletion | AsyncIterable<SessionChatChunk>> {
    checkId(id);
    if (!params || typeof params !== 'object') throw new HearthError('INVALID_ARGUMENT', 'sessions.chat(id, params) needs a params object.');
    if ((params as { logprobs?: unknown }).logprobs) throw new HearthError('INVALID_ARGUMENT', 'sessions.chat does not return logprobs.', { hint: 'Use chat.completions.create for logprobs.' });
    if (params.messages !== undefined && (params.message !== undefined || params.regenerate)) {
      throw new HearthError('INVALID_ARGUMENT', 'Give either messages (the whole conversation) or message/regenerate, not both.');
    }
    if (params.messages !== undefined) checkMessages(params.messages, 'messages');
    if (params.message !== undefined && typeof params.message !== 'string') checkMessages([params.message], 'message');
    grammarOfResponseFormat(params.response_format); // a bad one is refused before the session is touched
    checkTools(params.tools, params.tool_choice);
    this.engine();
    const signal = options?.signal ?? params.signal;
    if (params.stream) return pushToPull<SessionChatChunk>((push, s) => this.turn(id, params, s, push) as Promise<SessionChatChunk>, signal, closed);
    return (await this.turn(id, params, signal, null)) as SessionChatCompletion;
  }

  private nextMessages(stored: ChatMessage[], p: SessionChatParams): ChatMessage[] {
    if (p.messages) return p.messages.map(storedMessage);
    let out = stored.map((m) => ({ ...m }));
    if (p.regenerate) {
      const at = out.map((m) => m.role).lastIndexOf('assistant');
      if (at < 0) throw new HearthError('INVALID_ARGUMENT', 'regenerate: this session has no assistant reply to generate again.');
      out = out.slice(0, at);
    }
    if (p.message !== undefined) out.push(typeof p.message === 'string' ? { role: 'user', content: p.message } : storedMessage(p.message));
    if (!out.length) throw new HearthError('EMPTY_PROMPT', 'The session has no messages to reply to.', { hint: 'Pass message: "..." to add one.' });
    return out;
  }

  /**
   * Stores a turn: the messages plus the reply, and the KV the engine now holds for the
   * conversation past `keep` (one new chunk), in one new manifest generation.
   */
  private async persistTurn(
    engine: Engine,
    l: Loaded,
    messages: ChatMessage[],
    promptIds: number[],
    reply: string,
    t: { restoredTokens: number; restoreMs: number; keep: number },
    details: Record<string, unknown> | undefined,
    toolCalls?: ChatMessage['tool_calls'],
  ): Promise<{ session: SessionTurnInfo }> {
    const { keep } = t;
    const m = l.manifest;
    const shape = shapeOf(engine);
    const tP = performance.now();
    const held = [...engine.cachedTokens];
    const gen = l.maxGen + 1;
    let chunk: NewChunk | null = null;
    let tokens = m.tokens.slice(0, keep);
    if (held.length > keep && commonPrefix(held, promptIds) === promptIds.length) {
      const slice = await engine.exportKv(keep, held.length);
      // another request may have run in between and replaced the cache: then store no KV
      if (commonPrefix(slice.tokens, held.slice(keep)) === held.length - keep) {
        chunk = await this.sealChunk(gen, slice, shape);
        tokens = held;
      }
    }
    const chunks = m.chunks.filter((c) => c.start < keep).map((c) => (c.end > keep ? { ...c, end: keep } : c));
    if (chunk) chunks.push(chunk.ref);
    const after: ChatMessage[] = [...messages, { role: 'assistant', content: reply, ...(toolCalls?.length ? { tool_calls: toolCalls } : {}) }];
    const { manifest, bytes } = await this.commit(
      l,
      gen,
      { ...m, title: m.title, messages: after, tokens, chunks, model: tokens.length ? engine.identity : m.model, updatedAt: Date.now() },
      chunk,
      details,
    );
    return {
      session: {
        id: l.id,
        restoredTokens: t.restoredTokens,
        restoreMs: t.restoreMs,
        truncatedAt: keep < m.tokens.length ? keep : null,
        storedTokens: manifest.tokens.length,
        bytesWritten: bytes,
        persistMs: performance.now() - tP,
        generation: manifest.gen,
      },
    };
  }

  /** One turn, holding the session's lock from reading its manifest to writing the next one. */
  private turn(id: string, p: SessionChatParams, signal: AbortSignal | undefined, push: ((c: SessionChatChunk) => void) | null): Promise<SessionChatCompletion | SessionChatChunk> {
    const engine = this.engine();
    return this.lock(id, signal, async () => {
      const l = await this.load(id);
      this.checkModel(l, engine);
      const m = l.manifest;
      const messages = this.nextMessages(m.messages, p);
      const { functions, choice } = checkTools(p.tools, p.tool_choice);
      const plan = choice !== 'none' && functions.length ? toolPlan(toolFormatOf(engine.tokenizer), functions, choice, p.parallel_tool_calls ?? true, p.response_format) : null;
      const promptIds = renderPrompt(engine.tokenizer, messages, plan ? functions : []);
      if (promptIds.length >= engine.contextLength) {
        throw new HearthError('CONTEXT_OVERFLOW', `The conversation has ${promptIds.length} tokens, but the context holds ${engine.contextLength} (at least one must remain for the reply).`, {
          hint: 'Start a new session (e.g. from a summary), or load the model with a larger contextLength.',
          details: { promptTokens: promptIds.length, contextLength: engine.contextLength },
        });
      }
      // the engine always runs the prompt's last token, for its logits
      const keep = commonPrefix(m.tokens, promptIds, promptIds.length - 1);
      const shape = shapeOf(engine);
      // refuse early when even the prompt's KV would not fit, rather than after generating
      const free = await this.free();
      const promptNeed = Math.ceil((promptIds.length - keep) * bytesPerToken(this.kvFormat, shape));
      if (free !== null && promptNeed > free) throw await this.quotaError(promptNeed, free);

      const t0 = performance.now();
      const restoredTokens = await this.restoreInto(engine, l, keep);
      const restoreMs = performance.now() - t0;

      const cid = completionId();
      const created = Math.floor(Date.now() / 1000);
      const model = this.opts.modelName?.() ?? engine.identity.source;
      const grammar = plan ? await constraintOf(engine, plan.grammar) : await responseFormatGrammar(engine, p.response_format);
      // solo: the reply's K/V must land in the engine's cache, where the session stores it from
      const req = { ...toGenerateRequest(engine, p, promptIds, 0, signal), solo: true };
      let replied = '';
      if (push) push(chunkOf(cid, created, model, { role: 'assistant', content: '' }));
      // with tools, text streams until a call may be starting (as chat.completions streams it)
      const gate = plan ? new CallTextGate(plan.calls.choice === 'auto' ? plan.calls.fmt.trigger : null) : null;
      req.onToken = (t) => {
        replied += t.text;
        const text = gate ? gate.push(t.text) : t.text;
        if (push && text) push(chunkOf(cid, created, model, { content: text }));
      };
      const tallies = { restoredTokens, restoreMs, keep };
      let r: GenerateResult;
      try {
        r = await generateWith(engine, req, grammar);
      } catch (e) {
        // a reply stopped part-way stays in the conversation (with the KV computed for it), as
        // the caller saw it stream; the call still rejects with ABORTED
        if (!(e instanceof HearthError && e.code === 'ABORTED') || !replied || p.keepStopped === false) throw e;
        const saved = await this.persistTurn(engine, l, messages, promptIds, replied, tallies, undefined);
        throw new HearthError('ABORTED', e.message, { cause: e, hint: 'The reply so far was kept in the session.', details: { session: saved.session, text: replied } });
      }
      const { message, finish } = toolReply(plan?.calls ?? null, r.text, r.finishReason);
      const completion = completionOf(cid, created, model, promptIds, r);
      completion.choices[0] = { ...completion.choices[0]!, message, finish_reason: finish };
      const { session } = await this.persistTurn(engine, l, messages, promptIds, message.content ?? '', tallies, { completion }, message.tool_calls);
      if (!push) return { ...completion, session };
      if (gate && message.tool_calls) for (const d of toolCallDeltas(message.tool_calls)) push(chunkOf(cid, created, model, { tool_calls: [d] }));
      else if (gate) {
        const rest = gate.rest();
        if (rest) push(chunkOf(cid, created, model, { content: rest }));
      }
      return {
        ...chunkOf(cid, created, model, {}),
        choices: [{ index: 0, delta: {}, finish_reason: finish, logprobs: null }],
        usage: completion.usage,
        hearth: completion.hearth,
        session,
      };
    });
  }
}

export type { ModelIdentity };
