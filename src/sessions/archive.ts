/**
 * The portable session file: 'HEARTHSESSION', a version byte, two reserved bytes, a u32 header
 * length, a JSON header listing the files with their sizes (the manifest first), then the files
 * exactly as stored, one after another. Encrypted sessions stay encrypted inside it.
 */
import { HearthError } from '../errors.js';

const MAGIC = new TextEncoder().encode('HEARTHSESSION');
const VERSION = 1;
const FIXED = MAGIC.length + 3 + 4;

export interface ArchiveFile {
  name: string;
  bytes: Uint8Array;
}

export function packArchive(files: ArchiveFile[]): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify({ files: files.map((f) => ({ name: f.name, bytes: f.bytes.byteLength })) }));
  const total = FIXED + header.byteLength + files.reduce((s, f) => s + f.bytes.byteLength, 0);
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  out[MAGIC.length] = VERSION;
  new DataView(out.buffer).setUint32(MAGIC.length + 3, header.byteLength, true);
  out.set(header, FIXED);
  let at = FIXED + header.byteLength;
  for (const f of files) {
    out.set(f.bytes, at);
    at += f.bytes.byteLength;
  }
  return out;
}

export function unpackArchive(data: Uint8Array): ArchiveFile[] {
  const bad = (why: string) =>
    new HearthError('SESSION_CORRUPT', `This is not a Hearth session file: ${why}.`, { hint: 'Import a file made by sessions.export(), whole and unmodified.' });
  if (data.byteLength < FIXED || MAGIC.some((b, i) => data[i] !== b)) throw bad('it does not start with the session signature');
  if (data[MAGIC.length] !== VERSION) throw bad(`version ${data[MAGIC.length]} is not one this Hearth reads`);
  const headerLen = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(MAGIC.length + 3, true);
  if (FIXED + headerLen > data.byteLength) throw bad('it was cut short');
  let header: { files?: { name?: unknown; bytes?: unknown }[] };
  try {
    header = JSON.parse(new TextDecoder().decode(data.subarray(FIXED, FIXED + headerLen))) as typeof header;
  } catch {
    throw bad('its header does not parse');
  }
  if (!Array.isArray(header.files) || header.files.length === 0) throw bad('it lists no files');
  let at = FIXED + headerLen;
  const out: ArchiveFile[] = [];
  for (const f of header.files) {
    if (typeof f.name !== 'string' || !Number.isSafeInteger(f.bytes) || (f.bytes as number) < 0) throw bad('its file list is malformed');
    const n = f.bytes as number;
    if (at + n > data.byteLength) throw bad('it was cut short');
    out.push({ name: f.name, bytes: data.subarray(at, at + n) });
    at += n;
  }
  if (at !== data.byteLength) throw bad('it has trailing bytes');
  return out;
}
