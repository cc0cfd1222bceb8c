/**
 * A session's manifest: its messages, its model, the tokens whose KV is stored and the chunks that
 * hold that KV. Each turn writes one new chunk, then a new manifest under the next generation
 * number; the newest manifest that reads back whole is the session. Chunks are never rewritten,
 * so a manifest stays valid for as long as its chunks are kept; an edit that cuts the conversation
 * inside a chunk only narrows the range the manifest takes from it.
 */
import { HearthError } from '../errors.js';
import type { ChatMessage } from '../tokenizer/index.js';
import type { ModelIdentity } from '../engine/identity.js';
import { KV_FORMATS, type KvFormat } from './kv-codec.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface ChunkRef {
  file: string;
  /** Positions [start, end) of the KV cache this chunk provides. */
  start: number;
  end: number;
  /** Where the chunk file itself ends: past `end` when a later edit cut the conversation inside it. */
  fileEnd: number;
  format: KvFormat;
  /** Size and sha256 (hex) of the stored file, envelope included. */
  bytes: number;
  digest: string;
}

export interface Manifest {
  format: 'hearth-session';
  version: 1;
  gen: number;
  title: string;
  createdAt: number;
  updatedAt: number;
  metadata: { [key: string]: JsonValue };
  /** The model whose KV this is; null until the first turn runs. */
  model: ModelIdentity | null;
  messages: ChatMessage[];
  /** Tokens whose K/V the chunks hold, from position 0: the chunks' ranges tile it exactly. */
  tokens: number[];
  chunks: ChunkRef[];
}

export const MANIFEST_ROLE = 'hearth-session-manifest';
export const CHUNK_ROLE = 'hearth-session-kv';

const pad = (gen: number) => String(gen).padStart(10, '0');
export const manifestName = (gen: number) => `m-${pad(gen)}`;
export const chunkName = (gen: number) => `k-${pad(gen)}`;

/** The generation a file name carries, and which kind of file it is. */
export function parseName(name: string): { kind: 'manifest' | 'chunk'; gen: number } | null {
  const m = /^([mk])-(\d{10})$/.exec(name);
  if (!m) return null;
  return { kind: m[1] === 'm' ? 'manifest' : 'chunk', gen: Number(m[2]) };
}

const isInt = (v: unknown, min = 0): v is number => Number.isSafeInteger(v) && (v as number) >= min;

/** Parses and checks a manifest's JSON; throws SESSION_CORRUPT saying what is wrong. */
export function parseManifest(payload: Uint8Array, what: string): Manifest {
  const bad = (why: string) => new HearthError('SESSION_CORRUPT', `${what} is not a valid session manifest: ${why}.`, { hint: 'The session falls back to its previous state where one remains; otherwise delete it.' });
  let m: Manifest;
  try {
    m = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload)) as Manifest;
  } catch {
    throw bad('it does not parse');
  }
  if (!m || typeof m !== 'object' || m.format !== 'hearth-session') throw bad('wrong format tag');
  if (m.version !== 1) throw bad(`version ${String(m.version)} is not one this Hearth reads`);
  if (!isInt(m.gen, 1) || typeof m.title !== 'string' || !isInt(m.createdAt) || !isInt(m.updatedAt)) throw bad('bad header fields');
  if (!m.metadata || typeof m.metadata !== 'object' || Array.isArray(m.metadata)) throw bad('bad metadata');
  if (!Array.isArray(m.messages) || m.messages.some((x) => !x || typeof x.role !== 'string' || typeof x.content !== 'string')) throw bad('bad messages');
  if (!Array.isArray(m.tokens) || m.tokens.some((t) => !isInt(t))) throw bad('bad tokens');
  if (m.model !== null && (typeof m.model !== 'object' || typeof m.model.fingerprint !== 'string')) throw bad('bad model identity');
  if (!Array.isArray(m.chunks)) throw bad('bad chunk list');
  let at = 0;
  for (const c of m.chunks) {
    if (!c || typeof c.file !== 'string' || !parseName(c.file) || parseName(c.file)!.kind !== 'chunk') throw bad('bad chunk name');
    if (!isInt(c.start) || !isInt(c.end) || !isInt(c.fileEnd) || c.start !== at || c.end <= c.start || c.fileEnd < c.end) throw bad('chunks do not tile the tokens');
    if (!KV_FORMATS.includes(c.format) || !isInt(c.bytes) || typeof c.digest !== 'string') throw bad('bad chunk fields');
    at = c.end;
  }
  if (at !== m.tokens.length) throw bad('chunks do not cover the tokens');
  return m;
}

export function encodeManifest(m: Manifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(m));
}
