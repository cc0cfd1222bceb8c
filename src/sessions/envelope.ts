/**
 * How every session file sits on storage: 'HSF1', a kind byte, 3 reserved bytes, then either
 *   plain:   the sha256 of the payload (32 bytes) and the payload, or
 *   AES-GCM: a fresh random 12-byte IV and the ciphertext with its 16-byte tag.
 * Either way a torn or flipped file is detected on read. The GCM additional data names the file's
 * role, so a chunk cannot pass for a manifest.
 */
import { HearthError } from '../errors.js';
import { Sha256 } from '../hub/sha256.js';

const MAGIC = [0x48, 0x53, 0x46, 0x31]; // 'HSF1'
const PLAIN = 0;
const GCM = 1;
const HEAD = 8;

function subtle(): SubtleCrypto | null {
  return (globalThis as { crypto?: Crypto }).crypto?.subtle ?? null;
}

/** Hex sha256: WebCrypto where there is one (native, fast), else the incremental JS hash. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const s = subtle();
  if (!s) return new Sha256().update(bytes).hex();
  const d = new Uint8Array(await s.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  let out = '';
  for (const b of d) out += b.toString(16).padStart(2, '0');
  return out;
}

async function sha256Bytes(bytes: Uint8Array): Promise<Uint8Array> {
  const hex = await sha256Hex(bytes);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Checks that the app's key can do what sessions need, before anything is written with it. */
export function checkKey(key: unknown): asserts key is CryptoKey {
  const k = key as Partial<CryptoKey> | null;
  const algo = k?.algorithm as { name?: string } | undefined;
  if (!k || typeof k !== 'object' || algo?.name !== 'AES-GCM' || !k.usages?.includes('encrypt') || !k.usages.includes('decrypt')) {
    throw new HearthError('INVALID_ARGUMENT', 'The session key must be an AES-GCM CryptoKey with encrypt and decrypt usages.', {
      hint: "Create one with crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']) and keep it (e.g. in IndexedDB).",
    });
  }
}

export async function seal(payload: Uint8Array, key: CryptoKey | null, role: string): Promise<Uint8Array> {
  if (!key) {
    const out = new Uint8Array(HEAD + 32 + payload.byteLength);
    out.set(MAGIC, 0);
    out[4] = PLAIN;
    out.set(await sha256Bytes(payload), HEAD);
    out.set(payload, HEAD + 32);
    return out;
  }
  const s = subtle();
  if (!s) throw new HearthError('INVALID_ARGUMENT', 'Encrypted sessions need WebCrypto, which this context lacks.', { hint: 'Serve the page over https (or localhost).' });
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(await s.encrypt({ name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(role) }, key, payload as Uint8Array<ArrayBuffer>));
  const out = new Uint8Array(HEAD + 12 + ct.byteLength);
  out.set(MAGIC, 0);
  out[4] = GCM;
  out.set(iv, HEAD);
  out.set(ct, HEAD + 12);
  return out;
}

export function isEncrypted(bytes: Uint8Array): boolean {
  return bytes.byteLength > HEAD && bytes[4] === GCM;
}

/** The payload, or SESSION_CORRUPT naming `what` when the file is torn, altered or the key is wrong. */
export async function unseal(bytes: Uint8Array, key: CryptoKey | null, role: string, what: string): Promise<Uint8Array> {
  const bad = (why: string, hint = 'The session is damaged: its last good state is used where one remains; otherwise delete it.') =>
    new HearthError('SESSION_CORRUPT', `${what} ${why}.`, { hint, details: { file: what } });
  if (bytes.byteLength < HEAD || MAGIC.some((m, i) => bytes[i] !== m)) throw bad('is not a session file (or was cut short)');
  if (bytes[4] === PLAIN) {
    if (bytes.byteLength < HEAD + 32) throw bad('was cut short');
    const payload = bytes.subarray(HEAD + 32);
    const want = bytes.subarray(HEAD, HEAD + 32);
    const got = await sha256Bytes(payload);
    if (got.some((b, i) => b !== want[i])) throw bad('fails its checksum');
    return payload;
  }
  if (bytes[4] !== GCM) throw bad(`has an unknown kind ${bytes[4]}`);
  if (!key) {
    throw new HearthError('INVALID_ARGUMENT', `${what} is encrypted, and no key was given.`, {
      hint: 'Pass the key the session was stored with: sessions.configure({ key }) or createEngine({ sessions: { key } }).',
      details: { file: what },
    });
  }
  const s = subtle()!;
  try {
    const iv = bytes.slice(HEAD, HEAD + 12);
    return new Uint8Array(await s.decrypt({ name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(role) }, key, bytes.slice(HEAD + 12)));
  } catch {
    throw bad('cannot be decrypted: the key is not the one it was stored with, or the file is damaged', 'Use the key the session was stored with; if it is the right key, the file is damaged.');
  }
}
