/**
 * Where models come from: the recommended Hub models, any Hub repo (looked up with the Hub's tree
 * API, only once the user has picked it), the models `npm run demo` serves (SmolLM2-135M-Instruct,
 * or the `--model` files), and how weight-cache keys map back to something the user recognises and
 * can load again.
 */
import type { CachedModelInfo } from '../../src/index.js';

export const HUB = 'https://huggingface.co';

export interface Recommended {
  title: string;
  /** owner/name */
  repo: string;
  /** The weight file, named so the engine needs no listing and picks the right quantization. */
  file: string;
  params: string;
  quant: string;
  /** Bytes to download, as last seen on the Hub; the tree API gives the current figure. */
  estimateBytes: number;
  note: string;
}

/*
 * Q8_0 GGUFs: Hearth's kernels read Q8_0 as it is, so the download is what sits on the GPU.
 * K-quant files (Q4_K_M...) download less but are widened to q8_0 at load (see models/load.ts).
 */
export const RECOMMENDED: Recommended[] = [
  {
    title: 'SmolLM2 360M Instruct',
    repo: 'HuggingFaceTB/SmolLM2-360M-Instruct-GGUF',
    file: 'smollm2-360m-instruct-q8_0.gguf',
    params: '360M',
    quant: 'Q8_0',
    estimateBytes: 386_000_000,
    note: 'Small and quick; good for a first try.',
  },
  {
    title: 'Qwen2.5 0.5B Instruct',
    repo: 'bartowski/Qwen2.5-0.5B-Instruct-GGUF',
    file: 'Qwen2.5-0.5B-Instruct-Q8_0.gguf',
    params: '494M',
    quant: 'Q8_0',
    estimateBytes: 531_000_000,
    note: 'Multilingual, follows instructions well.',
  },
  {
    title: 'Llama 3.2 1B Instruct',
    repo: 'bartowski/Llama-3.2-1B-Instruct-GGUF',
    file: 'Llama-3.2-1B-Instruct-Q8_0.gguf',
    params: '1.24B',
    quant: 'Q8_0',
    estimateBytes: 1_320_000_000,
    note: 'The most capable here; needs about 1.6 GB of GPU memory.',
  },
];

export function recommendedSpec(r: Recommended): string {
  return `${r.repo}/${r.file}`;
}

// ---- the Hub's tree API -------------------------------------------------------------------------

export interface HubFile {
  path: string;
  size: number;
}

/** The files of a Hub repo (top level), or null when the Hub cannot be reached. */
export async function hubTree(repo: string, revision = 'main', signal?: AbortSignal): Promise<HubFile[] | null> {
  try {
    const res = await fetch(`${HUB}/api/models/${repo}/tree/${encodeURIComponent(revision)}`, { signal, headers: { Accept: 'application/json' } });
    if (!res.ok) return null;
    const json: unknown = await res.json();
    if (!Array.isArray(json)) return null;
    const files: HubFile[] = [];
    for (const e of json as { type?: unknown; path?: unknown; size?: unknown; lfs?: { size?: unknown } }[]) {
      if (e.type !== 'file' || typeof e.path !== 'string') continue;
      const size = typeof e.lfs?.size === 'number' ? e.lfs.size : typeof e.size === 'number' ? e.size : 0;
      files.push({ path: e.path, size });
    }
    return files;
  } catch {
    return null;
  }
}

/** What a GGUF file name says about its quantization, and whether Hearth can read that. */
export function ggufQuant(file: string): { quant: string; supported: boolean } {
  const m = /[-_.](f32|f16|bf16|q8_0|q4_0|q4_1|q5_0|q5_1|q[2-8]_k(?:_[a-z]+)?|iq\d\w*|tq\d_\d)(?:[-_.]|\.gguf$)/i.exec(file);
  const quant = m ? m[1]!.toUpperCase() : '?';
  // k-quant mixes (Q4_K_M, Q3_K_L...) hold Q2_K..Q6_K tensors, all of which Hearth reads
  const base = /^Q[2-6]_K/.test(quant) ? 'K' : quant;
  return { quant, supported: ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'K', 'IQ4_NL', 'IQ4_XS', '?'].includes(base) };
}

export type RepoPlan =
  | { kind: 'gguf'; choices: { file: string; size: number; quant: string; supported: boolean }[] }
  | { kind: 'safetensors'; bytes: number; files: string[] }
  | { kind: 'none'; files: string[] };

const SIDE_FILES = /^(config\.json|generation_config\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|tokenizer\.model|vocab\.json|merges\.txt|model\.safetensors\.index\.json)$/;

/** Which files of a repo Hearth would load, and how many bytes that downloads. */
export function planRepo(files: HubFile[]): RepoPlan {
  const weights = files.filter((f) => /\.safetensors$/i.test(f.path));
  const hasConfig = files.some((f) => f.path === 'config.json');
  if (weights.length && hasConfig) {
    const take = [...weights, ...files.filter((f) => SIDE_FILES.test(f.path))];
    return { kind: 'safetensors', bytes: take.reduce((s, f) => s + f.size, 0), files: take.map((f) => f.path) };
  }
  const ggufs = files.filter((f) => /\.gguf$/i.test(f.path) && !f.path.includes('/'));
  if (ggufs.length) {
    const choices = ggufs.map((f) => ({ file: f.path, size: f.size, ...ggufQuant(f.path) }));
    // what the kernels read as it is first (Q4_0, Q8_0), then files widened to q8_0 at load,
    // then the unquantized ones; smallest first within each
    const order = ['Q4_0', 'Q8_0', '*', 'F16', 'BF16', 'F32', '?'];
    const rank = (q: string) => (order.includes(q) ? order.indexOf(q) : 2);
    choices.sort((a, b) => Number(b.supported) - Number(a.supported) || rank(a.quant) - rank(b.quant) || a.size - b.size);
    return { kind: 'gguf', choices };
  }
  return { kind: 'none', files: files.map((f) => f.path) };
}

// ---- models served by `npm run demo` (SmolLM2-135M-Instruct, or `-- --model PATH`) ------------

export interface LocalModel {
  name: string;
  kind: 'file' | 'folder';
  /** Path on this server, e.g. /local-models/stories260K.gguf */
  url: string;
  files: { name: string; size: number }[];
  bytes: number;
}

/** The server's list; empty when the demo is hosted somewhere that does not serve one. */
export async function fetchLocalModels(): Promise<LocalModel[]> {
  try {
    const res = await fetch(new URL('/local-models/index.json', location.href), { cache: 'no-store' });
    if (!res.ok || !(res.headers.get('content-type') ?? '').includes('json')) return [];
    const list: unknown = await res.json();
    return Array.isArray(list) ? (list as LocalModel[]).filter((m) => typeof m?.name === 'string' && typeof m?.url === 'string') : [];
  } catch {
    return [];
  }
}

/** A served folder is a speech (Whisper) model, for the microphone, not the chat: faster-whisper's model.bin, or so named. */
export function isSpeechModel(m: LocalModel): boolean {
  return m.kind === 'folder' && (m.files.some((f) => f.name === 'model.bin') || /whisper/i.test(m.name));
}

/** The absolute URL the engine loads (and the weight cache keys) a served model by. */
export function localModelUrl(m: LocalModel): string {
  return new URL(m.url, location.href).toString();
}

// ---- weight-cache keys ---------------------------------------------------------------------------

export interface CacheEntryView {
  /** What to show. */
  title: string;
  /** Where it came from, in a few words. */
  origin: string;
  /** What to pass to createEngine to load it again (null: cannot tell). */
  spec: { model: string; endpoint?: string } | null;
}

/** Turn a weight-cache key ('hf:owner/name@rev', 'hf:endpoint/owner/name@rev' or a URL) into a view. */
export function describeCacheEntry(entry: CachedModelInfo): CacheEntryView {
  const gguf = entry.files.find((f) => /\.gguf$/i.test(f.file))?.file;
  const hf = /^hf:(?:(https?:\/\/.+)\/)?([^/@]+\/[^/@]+)@(.+)$/.exec(entry.key);
  if (hf) {
    const [, endpoint, repo, revision] = hf;
    const rev = revision === 'main' ? '' : `@${revision}`;
    const title = gguf ? `${repo}/${gguf}` : `${repo}${rev}`;
    return {
      title,
      origin: endpoint ? `Hub mirror ${new URL(endpoint).host}` : 'Hugging Face Hub',
      spec: { model: `${repo}${rev}${gguf ? `/${gguf}` : ''}`, ...(endpoint ? { endpoint } : {}) },
    };
  }
  try {
    const u = new URL(entry.key);
    const sameOrigin = u.origin === location.origin;
    const name = decodeURIComponent(u.pathname.replace(/\/$/, '').split('/').pop() ?? u.host);
    if (sameOrigin && u.pathname.startsWith('/local-models/')) return { title: name, origin: 'served by this demo', spec: { model: entry.key } };
    return { title: name, origin: u.host, spec: { model: entry.key } };
  } catch {
    return { title: entry.key, origin: 'unknown source', spec: null };
  }
}

/** The cache key a recommended model or a Hub repo is stored under. */
export function hubCacheKey(repo: string, revision = 'main'): string {
  return `hf:${repo}@${revision}`;
}
