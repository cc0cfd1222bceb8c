import { HearthError } from '../errors.js';
import { abortError, checkReadRange, throwIfAborted, type ByteSource, type ProgressSink } from './byte-source.js';

export interface HttpOptions {
  fetch?: typeof fetch;
  /** Extra request headers, e.g. Authorization for gated Hub repos. */
  headers?: Record<string, string>;
  /** A request fails with NETWORK when no byte arrives for this long. Default 60 s. */
  timeoutMs?: number;
  /** Retries of transient failures (5xx, 429, dropped connections), resuming where the data stopped. Default 2. */
  retries?: number;
  progress?: ProgressSink;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_RETRIES = 2;

/** Failures worth retrying: the server or the connection hiccuped, the request itself was fine. */
const transient = new WeakSet<HearthError>();

function transientError(message: string, details: Record<string, unknown>, cause?: unknown): HearthError {
  const e = new HearthError('NETWORK', message, { details, cause, hint: 'Check the network connection and try again.' });
  transient.add(e);
  return e;
}

export function isTransient(e: unknown): boolean {
  return e instanceof HearthError && transient.has(e);
}

/** The typed error for a non-success HTTP status. */
export function httpStatusError(status: number, url: string, file: string): HearthError {
  if (status === 404) {
    return new HearthError('MISSING_FILE', `${file} was not found (HTTP 404 at ${url}).`, {
      hint: 'Check the repository id, revision and file name.',
      details: { status, url, file },
    });
  }
  if (status === 401 || status === 403) {
    return new HearthError('NETWORK', `Access to ${url} was refused (HTTP ${status}).`, {
      hint: 'The repository may be gated or private: accept its license on the Hub and pass an access token.',
      details: { status, url, file },
    });
  }
  const details = { status, url, file };
  if (status >= 500 || status === 429 || status === 408) return transientError(`Request for ${url} failed with HTTP ${status}.`, details);
  return new HearthError('NETWORK', `Request for ${url} failed with HTTP ${status}.`, { details });
}

/**
 * One fetch whose lifetime is bounded by the caller's signal and by a stall timer that the body
 * reader re-arms on every chunk, so a server that stops sending cannot hang a load.
 */
export class BoundedRequest {
  private readonly ctrl = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timedOut = false;
  private readonly onAbort = (): void => this.ctrl.abort();

  constructor(
    private readonly timeoutMs: number,
    private readonly signal?: AbortSignal,
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
    this.arm();
  }

  get abortSignal(): AbortSignal {
    return this.ctrl.signal;
  }

  arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.ctrl.abort();
    }, this.timeoutMs);
  }

  done(): void {
    clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  /** Maps whatever fetch or the body stream threw to a typed error. */
  wrap(e: unknown, url: string): HearthError {
    if (this.signal?.aborted) return abortError(this.signal);
    if (e instanceof HearthError) return e;
    if (this.timedOut) return transientError(`No data from ${url} for ${this.timeoutMs} ms.`, { url, timeoutMs: this.timeoutMs }, e);
    const msg = e instanceof Error ? e.message : String(e);
    return transientError(`Could not fetch ${url}: ${msg}.`, { url }, e);
  }
}

export async function httpFetch(url: string, init: RequestInit, opts: HttpOptions, signal?: AbortSignal): Promise<{ res: Response; req: BoundedRequest }> {
  throwIfAborted(signal);
  const req = new BoundedRequest(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, signal);
  const f = opts.fetch ?? globalThis.fetch;
  try {
    const res = await f(url, { ...init, headers: { ...opts.headers, ...(init.headers as Record<string, string> | undefined) }, signal: req.abortSignal });
    return { res, req };
  } catch (e) {
    req.done();
    throw req.wrap(e, url);
  }
}

/** Runs `attempt` again on transient failures, with a short backoff. */
export async function withRetries<T>(opts: HttpOptions, signal: AbortSignal | undefined, attempt: () => Promise<T>): Promise<T> {
  const retries = opts.retries ?? DEFAULT_RETRIES;
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (e) {
      if (i >= retries || !isTransient(e)) throw e;
      await sleep(200 * 2 ** i, signal);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const onAbort = (): void => {
      clearTimeout(t);
      reject(abortError(signal));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function discard(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // nothing to clean up beyond the connection
  }
}

/** Fetches a small file (config, tokenizer) as text. */
export async function fetchText(url: string, file: string, opts: HttpOptions, signal?: AbortSignal): Promise<string> {
  return withRetries(opts, signal, async () => {
    const { res, req } = await httpFetch(url, { method: 'GET' }, opts, signal);
    try {
      if (!res.ok) {
        await discard(res);
        throw httpStatusError(res.status, url, file);
      }
      return await res.text();
    } catch (e) {
      throw req.wrap(e, url);
    } finally {
      req.done();
    }
  });
}

export interface RemoteFileInfo {
  size?: number;
  sha256?: string;
}

/** HEAD: does the file exist, and how big is it. A 404 is `null`; other failures throw. */
export async function headFile(url: string, file: string, opts: HttpOptions, signal?: AbortSignal): Promise<RemoteFileInfo | null> {
  return withRetries(opts, signal, async () => {
    const { res, req } = await httpFetch(url, { method: 'HEAD' }, opts, signal);
    req.done();
    await discard(res);
    if (res.status === 404) return null;
    // some static servers refuse HEAD; the caller falls back to a ranged GET
    if (res.status === 405 || res.status === 501) return {};
    if (!res.ok) throw httpStatusError(res.status, url, file);
    return infoFromHeaders(res.headers);
  });
}

function infoFromHeaders(h: Headers): RemoteFileInfo {
  const info: RemoteFileInfo = {};
  // The Hub answers a resolve HEAD with the LFS object's size and sha256 in X-Linked-* headers.
  const linkedSize = h.get('x-linked-size');
  const length = h.get('content-length');
  const encoded = h.get('content-encoding');
  if (linkedSize && /^\d+$/.test(linkedSize)) info.size = Number(linkedSize);
  else if (length && /^\d+$/.test(length) && (!encoded || encoded === 'identity')) info.size = Number(length);
  const linkedEtag = h.get('x-linked-etag')?.replace(/^W\//, '').replace(/"/g, '');
  if (linkedEtag && /^[0-9a-f]{64}$/i.test(linkedEtag)) info.sha256 = linkedEtag.toLowerCase();
  return info;
}

/** `bytes a-b/total` or `bytes * /total`. */
function parseContentRange(v: string | null): { start: number; end: number; total: number } | { start: null; end: null; total: number } | null {
  if (!v) return null;
  let m = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(v.trim());
  if (m) return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? NaN : Number(m[3]) };
  m = /^bytes\s+\*\/(\d+)$/i.exec(v.trim());
  if (m) return { start: null, end: null, total: Number(m[1]) };
  return null;
}

/** A remote file read with HTTP Range requests. */
export class HttpByteSource implements ByteSource {
  private knownSize: number | undefined;
  private sizePromise: Promise<number> | null = null;
  sha256: string | undefined;

  constructor(
    readonly name: string,
    readonly url: string,
    private readonly opts: HttpOptions = {},
    known: RemoteFileInfo = {},
  ) {
    this.knownSize = known.size;
    this.sha256 = known.sha256;
  }

  size(): Promise<number> {
    if (this.knownSize !== undefined) return Promise.resolve(this.knownSize);
    this.sizePromise ??= this.fetchSize().catch((e: unknown) => {
      this.sizePromise = null;
      throw e;
    });
    return this.sizePromise;
  }

  private async fetchSize(): Promise<number> {
    const info = await headFile(this.url, this.name, this.opts);
    if (info === null) throw httpStatusError(404, this.url, this.name);
    this.sha256 ??= info.sha256;
    if (info.size !== undefined) return (this.knownSize = info.size);
    // no usable length from HEAD: ask for one byte and read the total from Content-Range
    return withRetries(this.opts, undefined, async () => {
      const { res, req } = await httpFetch(this.url, { method: 'GET', headers: { Range: 'bytes=0-0' } }, this.opts);
      req.done();
      await discard(res);
      const cr = parseContentRange(res.headers.get('content-range'));
      if ((res.status === 206 || res.status === 416) && cr && Number.isFinite(cr.total)) return (this.knownSize = cr.total);
      if (res.status === 200) {
        const info2 = infoFromHeaders(res.headers);
        if (info2.size !== undefined) return (this.knownSize = info2.size);
      }
      if (!res.ok) throw httpStatusError(res.status, this.url, this.name);
      throw new HearthError('NETWORK', `The server at ${this.url} does not say how big ${this.name} is.`, {
        hint: 'Serve the file with Content-Length and Range support.',
        details: { url: this.url },
      });
    });
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    throwIfAborted(signal);
    if (this.knownSize !== undefined) checkReadRange(this.name, offset, length, this.knownSize);
    else checkReadRange(this.name, offset, length, Number.MAX_SAFE_INTEGER);
    const out = new Uint8Array(length);
    if (length === 0) return out;
    const state = { got: 0 };
    await withRetries(this.opts, signal, () => this.readInto(out, offset, state, signal));
    return out;
  }

  /** Fills out[state.got..] from the file at offset + state.got; on failure state.got says how far it came. */
  private async readInto(out: Uint8Array, offset: number, state: { got: number }, signal?: AbortSignal): Promise<void> {
    const start = offset + state.got;
    const end = offset + out.byteLength - 1;
    const { res, req } = await httpFetch(this.url, { method: 'GET', headers: { Range: `bytes=${start}-${end}` } }, this.opts, signal);
    try {
      const cr = parseContentRange(res.headers.get('content-range'));
      if (res.status === 416) {
        await discard(res);
        const total = cr?.total ?? this.knownSize ?? NaN;
        throw new HearthError('TRUNCATED_FILE', `${this.name} is truncated: needed bytes up to ${end + 1}, but the file has ${total}.`, {
          details: { file: this.name, url: this.url, size: total, needed: end + 1 },
        });
      }
      if (!res.ok) {
        await discard(res);
        throw httpStatusError(res.status, this.url, this.name);
      }
      let total = this.knownSize;
      if (res.status === 206) {
        if (!cr || cr.start !== start) {
          await discard(res);
          throw new HearthError('NETWORK', `The server sent the wrong byte range for ${this.url}.`, { details: { url: this.url, contentRange: res.headers.get('content-range') } });
        }
        if (Number.isFinite(cr.total)) total = this.knownSize ??= cr.total;
        if (cr.end !== null && cr.end < end) {
          await discard(res);
          throw new HearthError('TRUNCATED_FILE', `${this.name} is truncated: needed bytes up to ${end + 1}, but the file has ${cr.total}.`, {
            details: { file: this.name, url: this.url, size: cr.total, needed: end + 1 },
          });
        }
      } else if (start !== 0) {
        // a 200 to a ranged request means the whole file is coming: unusable past byte 0
        await discard(res);
        throw new HearthError('NETWORK', `The server at ${this.url} ignores Range requests.`, {
          hint: 'Serve model files from a server that supports HTTP Range requests.',
          details: { url: this.url },
        });
      } else {
        const len = infoFromHeaders(res.headers).size;
        if (len !== undefined) total = this.knownSize ??= len;
        if (len !== undefined && len < out.byteLength) {
          await discard(res);
          checkReadRange(this.name, offset, out.byteLength, len);
        }
      }
      await this.readBody(res, req, out, state, total ?? out.byteLength);
    } catch (e) {
      throw req.wrap(e, this.url);
    } finally {
      req.done();
    }
  }

  private async readBody(res: Response, req: BoundedRequest, out: Uint8Array, state: { got: number }, total: number): Promise<void> {
    const body = res.body;
    if (!body) throw transientError(`Empty response body from ${this.url}.`, { url: this.url });
    const reader = body.getReader();
    try {
      while (state.got < out.byteLength) {
        const { done, value } = await reader.read();
        if (done) break;
        req.arm();
        const n = Math.min(value.byteLength, out.byteLength - state.got);
        out.set(n === value.byteLength ? value : value.subarray(0, n), state.got);
        state.got += n;
        this.opts.progress?.add(this.name, n, total);
      }
    } finally {
      // also drops whatever the server sends beyond the range, or a half-read body after an error
      await reader.cancel().catch(() => undefined);
    }
    if (state.got < out.byteLength) {
      throw transientError(`The connection to ${this.url} closed after ${state.got} of ${out.byteLength} bytes.`, { url: this.url });
    }
  }
}

/** Joins a base URL and a relative file name, encoding each path segment. */
export function joinUrl(base: string, file: string): string {
  const b = base.endsWith('/') ? base : `${base}/`;
  return b + file.split('/').map(encodeURIComponent).join('/');
}

