import type { ModelSource } from './byte-source.js';
import type { HttpOptions } from './http.js';
import { RemoteModelSource } from './remote.js';

const WEIGHT_FILE = /\.(gguf|safetensors)$/i;

/**
 * A model behind a plain URL: either one weight file (its folder then holds the config and
 * tokenizer files, as on the Hub) or a folder given as a base URL.
 */
export function urlSource(url: string, opts: HttpOptions = {}): ModelSource {
  const u = new URL(url);
  const path = u.pathname;
  const last = path.slice(path.lastIndexOf('/') + 1);
  if (WEIGHT_FILE.test(last)) {
    const base = new URL(path.slice(0, path.lastIndexOf('/') + 1) + u.search, u);
    const entry = decodeURIComponent(last);
    return new RemoteModelSource(u.toString(), (file) => fileUrl(base, file), opts, null, entry);
  }
  const base = new URL(path.endsWith('/') ? path + u.search : `${path}/${u.search}`, u);
  return new RemoteModelSource(base.toString(), (file) => fileUrl(base, file), opts, null);
}

function fileUrl(base: URL, file: string): string {
  const u = new URL(file.split('/').map(encodeURIComponent).join('/'), base);
  // signed URLs keep their query on every sibling
  u.search = base.search;
  return u.toString();
}
