import { HearthError } from '../errors.js';
import { normalizeFileName, type ModelSource } from './byte-source.js';
import { httpFetch, httpStatusError, joinUrl, withRetries, type HttpOptions, type RemoteFileInfo } from './http.js';
import { RemoteModelSource } from './remote.js';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

export interface HubRef {
  /** 'owner/name' */
  repo: string;
  revision: string | undefined;
  /** A file inside the repo, when the spec named one: 'owner/name/model-q4_0.gguf'. */
  file: string | undefined;
}

const SEGMENT = '[A-Za-z0-9][A-Za-z0-9._-]*';
const HUB_SPEC = new RegExp(`^(?:hf:(?://)?)?(${SEGMENT})/(${SEGMENT})(?:@([^/\\s]+))?(?:/(\\S+))?$`);

/** 'owner/name', 'owner/name@rev', 'hf:owner/name', 'owner/name/file.gguf'; null if the spec is none of those. */
export function parseHubSpec(spec: string): HubRef | null {
  const m = HUB_SPEC.exec(spec.trim());
  if (!m) return null;
  const [, owner, name, revision, file] = m;
  if (owner!.includes('..') || name!.includes('..')) return null;
  return { repo: `${owner}/${name}`, revision, file: file === undefined ? undefined : normalizeFileName(file) };
}

export function hubFileUrl(endpoint: string, repo: string, revision: string, file: string): string {
  return joinUrl(`${trimSlash(endpoint)}/${repo}/resolve/${encodeURIComponent(revision)}`, file);
}

export interface HubSourceOptions extends HttpOptions {
  revision?: string;
  endpoint?: string;
  /** The weight file to use, when the repo holds several. */
  entry?: string;
}

/** A Hugging Face Hub repository (or a mirror with the same URL layout) at one revision. */
export function hubSource(repo: string, opts: HubSourceOptions = {}): ModelSource {
  const endpoint = trimSlash(opts.endpoint ?? DEFAULT_HUB_ENDPOINT);
  const revision = opts.revision ?? 'main';
  const id = endpoint === DEFAULT_HUB_ENDPOINT ? `hf:${repo}@${revision}` : `hf:${endpoint}/${repo}@${revision}`;
  const treeUrl = `${endpoint}/api/models/${repo}/tree/${encodeURIComponent(revision)}`;
  return new RemoteModelSource(id, (file) => hubFileUrl(endpoint, repo, revision, file), opts, (signal) => listHubTree(treeUrl, repo, opts, signal), opts.entry);
}

interface TreeEntry {
  type?: unknown;
  path?: unknown;
  size?: unknown;
  lfs?: { oid?: unknown; size?: unknown } | null;
}

/**
 * The top level of a repo from the Hub's tree API, following its Link-header pages. A server
 * without that API (a plain mirror) gives null, and the caller probes file names instead.
 */
async function listHubTree(url: string, repo: string, opts: HttpOptions, signal?: AbortSignal): Promise<Map<string, RemoteFileInfo> | null> {
  const files = new Map<string, RemoteFileInfo>();
  let next: string | null = url;
  for (let page = 0; next !== null; page++) {
    if (page > 1000) throw new HearthError('NETWORK', `The file listing of ${repo} does not end.`, { details: { url } });
    const pageUrl: string = next;
    const result = await withRetries(opts, signal, async () => {
      const { res, req } = await httpFetch(pageUrl, { method: 'GET', headers: { Accept: 'application/json' } }, opts, signal);
      try {
        if ([400, 404, 405, 501].includes(res.status)) {
          await res.body?.cancel();
          return null;
        }
        if (!res.ok) {
          await res.body?.cancel();
          throw httpStatusError(res.status, pageUrl, `the file list of ${repo}`);
        }
        let json: unknown;
        try {
          json = await res.json();
        } catch {
          return null;
        }
        return { json, link: res.headers.get('link') };
      } catch (e) {
        throw req.wrap(e, pageUrl);
      } finally {
        req.done();
      }
    });
    if (result === null || !Array.isArray(result.json)) {
      if (page === 0) return null;
      throw new HearthError('NETWORK', `Page ${page + 1} of the file listing of ${repo} is not a list.`, { details: { url: pageUrl } });
    }
    for (const e of result.json as TreeEntry[]) {
      if (e.type !== 'file' || typeof e.path !== 'string') continue;
      const lfs = e.lfs ?? undefined;
      const size = typeof lfs?.size === 'number' ? lfs.size : typeof e.size === 'number' ? e.size : undefined;
      const sha256 = typeof lfs?.oid === 'string' && /^[0-9a-f]{64}$/i.test(lfs.oid) ? lfs.oid.toLowerCase() : undefined;
      files.set(e.path, { size, sha256 });
    }
    next = nextLink(result.link, pageUrl);
  }
  return files;
}

function nextLink(link: string | null, base: string): string | null {
  if (!link) return null;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part);
    if (m) return new URL(m[1]!, base).toString();
  }
  return null;
}

function trimSlash(s: string): string {
  return s.replace(/\/+$/, '');
}
