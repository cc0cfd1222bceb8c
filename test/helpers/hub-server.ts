/**
 * A local stand-in for the Hugging Face Hub and for plain file hosting, so hub code is tested
 * without the network. Serves, from in-memory files and/or a folder:
 *   GET/HEAD /{owner}/{name}/resolve/{rev}/{file}   repo files ('owner/name@rev/...' wins over 'owner/name/...')
 *   GET      /api/models/{owner}/{name}/tree/{rev}  the repo's top-level listing (paged with a Link header)
 *   GET/HEAD /files/{path}                           plain files
 * with Range support (206, 416), Content-Length and ETag, and optional faults. Every request is logged.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

export interface LoggedRequest {
  method: string;
  path: string;
  range: string | undefined;
  authorization: string | undefined;
  status: number;
}

export interface HubServerOptions {
  /** Virtual files by path: 'owner/name/config.json', 'owner/name@v1/config.json', 'plain/model.gguf'. */
  files?: Record<string, Uint8Array | string>;
  /** A folder laid out the same way, consulted after `files`. */
  root?: string;
  /** Serve the tree API (default true); false makes it 404 like a bare mirror. */
  treeApi?: boolean;
  /** Entries per tree page; default: all in one page. */
  pageSize?: number;
  /** Answer ranged GETs with the whole file (200), like a server without Range support. */
  ignoreRange?: boolean;
  /** Refuse HEAD with 405. */
  noHead?: boolean;
  /** Redirect repo files with these extensions to a CDN path, as the Hub does for LFS files. */
  redirectLfs?: boolean;
}

type Fault =
  | { kind: 'status'; match: RegExp; status: number; times: number }
  | { kind: 'stall'; match: RegExp; afterBytes: number; times: number }
  | { kind: 'drop'; match: RegExp; afterBytes: number; times: number };

export interface HubServer {
  /** Base URL, e.g. http://127.0.0.1:41234 — the Hub endpoint. */
  url: string;
  requests: LoggedRequest[];
  /** Requests whose path matches (all, without a pattern). */
  count(match?: string | RegExp, method?: string): number;
  /** Clears the request log and any pending faults. */
  reset(): void;
  /** The next `times` requests matching answer `status`. */
  failNext(match: string | RegExp, status: number, times?: number): void;
  /** The next matching GETs send `afterBytes` of the body and then nothing, forever. */
  stallNext(match: string | RegExp, afterBytes?: number, times?: number): void;
  /** The next matching GETs send `afterBytes` of the body and then close the connection. */
  dropNext(match: string | RegExp, afterBytes?: number, times?: number): void;
  close(): Promise<void>;
}

const LFS = /\.(safetensors|gguf|bin)$/;

export async function startHubServer(opts: HubServerOptions = {}): Promise<HubServer> {
  const enc = new TextEncoder();
  const mem = new Map<string, Uint8Array>(Object.entries(opts.files ?? {}).map(([k, v]) => [k, typeof v === 'string' ? enc.encode(v) : v]));
  const requests: LoggedRequest[] = [];
  const faults: Fault[] = [];
  const hanging = new Set<ServerResponse>();

  const readFile = (p: string): Uint8Array | null => {
    const m = mem.get(p);
    if (m) return m;
    if (!opts.root) return null;
    const full = path.join(opts.root, ...p.split('/'));
    if (!full.startsWith(path.resolve(opts.root))) return null;
    try {
      return statSync(full).isFile() ? new Uint8Array(readFileSync(full)) : null;
    } catch {
      return null;
    }
  };

  const repoDir = (repo: string, rev: string): string => {
    const pinned = `${repo}@${rev}`;
    const hasPinned = [...mem.keys()].some((k) => k.startsWith(`${pinned}/`)) || (opts.root !== undefined && exists(path.join(opts.root, ...pinned.split('/'))));
    return hasPinned ? pinned : repo;
  };

  const listRepo = (dir: string): string[] => {
    const names = new Set<string>();
    for (const k of mem.keys()) if (k.startsWith(`${dir}/`) && !k.slice(dir.length + 1).includes('/')) names.add(k.slice(dir.length + 1));
    if (opts.root) {
      try {
        for (const e of readdirSync(path.join(opts.root, ...dir.split('/')), { withFileTypes: true })) if (e.isFile()) names.add(e.name);
      } catch {
        // no such folder
      }
    }
    return [...names].sort();
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? '/', 'http://x');
    // match on the raw path: an encoded revision ('refs%2Fpr%2F1') is one segment
    const p = u.pathname;
    const dec = decodeURIComponent;
    const method = req.method ?? 'GET';
    const log: LoggedRequest = { method, path: dec(p) + u.search, range: req.headers.range, authorization: req.headers.authorization, status: 0 };
    requests.push(log);
    const send = (status: number, body?: Uint8Array | string, headers: Record<string, string> = {}): void => {
      log.status = status;
      const b = typeof body === 'string' ? enc.encode(body) : body;
      res.writeHead(status, { ...(b ? { 'Content-Length': String(b.byteLength) } : {}), ...headers });
      res.end(method === 'HEAD' ? undefined : b);
    };

    const fault = faults.find((f) => f.times > 0 && f.match.test(dec(p)));
    if (fault && (fault.kind === 'status' || method === 'GET')) {
      fault.times--;
      if (fault.kind === 'status') return send(fault.status, `fault ${fault.status}`);
    }

    let m = /^\/api\/models\/([^/]+)\/([^/]+)\/tree\/([^/]+)$/.exec(p);
    if (m) {
      if (opts.treeApi === false) return send(404, 'Not Found');
      const repo = `${dec(m[1]!)}/${dec(m[2]!)}`;
      const dir = repoDir(repo, dec(m[3]!));
      const names = listRepo(dir);
      if (names.length === 0) return send(404, JSON.stringify({ error: 'Repository not found' }), { 'Content-Type': 'application/json' });
      const entries = names.map((name) => {
        const bytes = readFile(`${dir}/${name}`)!;
        const e: Record<string, unknown> = { type: 'file', oid: sha(bytes).slice(0, 40), size: bytes.byteLength, path: name };
        if (LFS.test(name)) e.lfs = { oid: sha(bytes), size: bytes.byteLength, pointerSize: 134 };
        return e;
      });
      const start = Number(u.searchParams.get('cursor') ?? 0);
      const size = opts.pageSize ?? entries.length;
      const page = entries.slice(start, start + size);
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (start + size < entries.length) headers.Link = `<${u.pathname}?cursor=${start + size}>; rel="next"`;
      return send(200, JSON.stringify(page), headers);
    }

    let file: string | null = null;
    m = /^\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(p);
    if (m) {
      const repo = `${dec(m[1]!)}/${dec(m[2]!)}`;
      const rev = dec(m[3]!);
      if (opts.redirectLfs && LFS.test(m[4]!)) {
        log.status = 302;
        res.writeHead(302, { Location: `/cdn/${m[1]}/${m[2]}/${m[3]}/${m[4]}` });
        return res.end();
      }
      file = `${repoDir(repo, rev)}/${dec(m[4]!)}`;
    } else if ((m = /^\/cdn\/([^/]+)\/([^/]+)\/([^/]+)\/(.+)$/.exec(p))) {
      file = `${repoDir(`${dec(m[1]!)}/${dec(m[2]!)}`, dec(m[3]!))}/${dec(m[4]!)}`;
    } else if ((m = /^\/files\/(.+)$/.exec(p))) {
      file = dec(m[1]!);
    }
    const bytes = file === null ? null : readFile(file);
    if (!bytes) return send(404, 'Entry not found');
    if (method === 'HEAD' && opts.noHead) return send(405, 'Method Not Allowed');
    const etag = `"${sha(bytes)}"`;
    const base = { ETag: etag, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' };

    let status = 200;
    let body = bytes;
    const headers: Record<string, string> = { ...base };
    const range = req.headers.range;
    if (range && !opts.ignoreRange) {
      const r = /^bytes=(\d*)-(\d*)$/.exec(range);
      if (!r || (r[1] === '' && r[2] === '')) return send(416, undefined, { 'Content-Range': `bytes */${bytes.byteLength}` });
      let a: number;
      let b: number;
      if (r[1] === '') {
        a = Math.max(0, bytes.byteLength - Number(r[2]));
        b = bytes.byteLength - 1;
      } else {
        a = Number(r[1]);
        b = r[2] === '' ? bytes.byteLength - 1 : Math.min(Number(r[2]), bytes.byteLength - 1);
      }
      if (a >= bytes.byteLength || a > b) return send(416, undefined, { 'Content-Range': `bytes */${bytes.byteLength}` });
      status = 206;
      body = bytes.subarray(a, b + 1);
      headers['Content-Range'] = `bytes ${a}-${b}/${bytes.byteLength}`;
    }
    if (fault && method === 'GET' && (fault.kind === 'stall' || fault.kind === 'drop')) {
      log.status = status;
      res.writeHead(status, { ...headers, 'Content-Length': String(body.byteLength) });
      res.write(body.subarray(0, Math.min(fault.afterBytes, body.byteLength)));
      if (fault.kind === 'drop') setTimeout(() => res.destroy(), 10);
      else hanging.add(res);
      return;
    }
    return send(status, body, headers);
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const toRegExp = (m: string | RegExp) => (typeof m === 'string' ? new RegExp(m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : m);

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    count(match, method) {
      const re = match === undefined ? null : toRegExp(match);
      return requests.filter((r) => (!re || re.test(r.path)) && (!method || r.method === method)).length;
    },
    reset() {
      requests.length = 0;
      faults.length = 0;
    },
    failNext(match, status, times = 1) {
      faults.push({ kind: 'status', match: toRegExp(match), status, times });
    },
    stallNext(match, afterBytes = 0, times = 1) {
      faults.push({ kind: 'stall', match: toRegExp(match), afterBytes, times });
    },
    dropNext(match, afterBytes = 0, times = 1) {
      faults.push({ kind: 'drop', match: toRegExp(match), afterBytes, times });
    },
    close() {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}
