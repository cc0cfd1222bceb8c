import type { Sha256State } from './sha256.js';

/**
 * What the weight cache knows about one model, kept as JSON beside its files. Besides the files it
 * records the source's answers to list() and has(), so that a cached model needs no network at all.
 */
export interface Manifest {
  version: 1;
  key: string;
  lastUsed: number;
  /** source.list(), once asked. */
  listing?: string[];
  /** has() answers, and files that open() found missing. */
  known: Record<string, boolean>;
  files: Record<string, FileEntry>;
}

export interface FileEntry {
  size: number;
  sha256?: string;
  /** Bytes made durable, from the start of the file. */
  stored: number;
  complete: boolean;
  /** The piece size the file was written with; a store may lay the file out by it. */
  piece: number;
  /** The hash of the first `stored` bytes, so a resumed download need not read them back. */
  hash?: Sha256State;
}

export function emptyManifest(key: string): Manifest {
  return { version: 1, key, lastUsed: Date.now(), known: {}, files: {} };
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Parses a stored manifest; anything malformed counts as no manifest (its files are fetched again).
 * With `key`, a manifest for another key (a hash collision of folder names) counts as none too.
 */
export function parseManifest(text: string | null, key?: string): Manifest | null {
  if (text === null) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const m = raw as Partial<Record<keyof Manifest, unknown>>;
  if (m.version !== 1 || typeof m.key !== 'string' || (key !== undefined && m.key !== key)) return null;
  if (typeof m.files !== 'object' || m.files === null) return null;
  const files: Record<string, FileEntry> = {};
  for (const [name, v] of Object.entries(m.files as Record<string, unknown>)) {
    const e = parseEntry(v);
    if (e) files[name] = e;
  }
  const known: Record<string, boolean> = {};
  if (typeof m.known === 'object' && m.known !== null) {
    for (const [name, v] of Object.entries(m.known as Record<string, unknown>)) if (typeof v === 'boolean') known[name] = v;
  }
  const listing = Array.isArray(m.listing) && m.listing.every((f) => typeof f === 'string') ? (m.listing as string[]) : undefined;
  return { version: 1, key: m.key, lastUsed: isCount(m.lastUsed) ? m.lastUsed : 0, listing, known, files };
}

function parseEntry(v: unknown): FileEntry | null {
  if (typeof v !== 'object' || v === null) return null;
  const e = v as Partial<Record<keyof FileEntry, unknown>>;
  if (!isCount(e.size) || !isCount(e.stored) || !isCount(e.piece) || e.piece === 0 || typeof e.complete !== 'boolean') return null;
  if (e.stored > e.size) return null;
  const out: FileEntry = { size: e.size, stored: e.stored, complete: e.complete && e.stored === e.size, piece: e.piece };
  if (typeof e.sha256 === 'string' && /^[0-9a-f]{64}$/.test(e.sha256)) out.sha256 = e.sha256;
  const h = e.hash as Partial<Sha256State> | undefined;
  if (h && Array.isArray(h.h) && h.h.length === 8 && h.h.every(isCount) && isCount(h.bytes) && h.bytes % 64 === 0) {
    out.hash = { h: h.h, bytes: h.bytes };
  }
  return out;
}
