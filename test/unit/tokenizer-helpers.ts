import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** ../shared/models, read in place (never copied into the repository). */
export const MODELS = fileURLToPath(new URL('../../../shared/models/', import.meta.url));

export function readText(rel: string): string {
  return readFileSync(MODELS + rel, 'utf8');
}

export function readJson(rel: string): unknown {
  return JSON.parse(readText(rel)) as unknown;
}

export function readBytes(rel: string): Uint8Array {
  return new Uint8Array(readFileSync(MODELS + rel));
}

/**
 * GGUF (v2/v3) metadata, enough for tokenizer tests, read synchronously: src/formats/gguf.ts (async, over a
 * ByteSource) was not committed when these tests were written; one test checks the two agree. Arrays arrive as
 * JS arrays, 64-bit ints as numbers.
 */
export function readGgufMetadata(bytes: Uint8Array): Map<string, unknown> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder();
  let pos = 0;
  const u32 = (): number => {
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    const v = Number(view.getBigUint64(pos, true));
    pos += 8;
    return v;
  };
  const str = (): string => {
    const n = u64();
    const s = text.decode(bytes.subarray(pos, pos + n));
    pos += n;
    return s;
  };
  const value = (type: number): unknown => {
    switch (type) {
      case 0: return view.getUint8(pos++);
      case 1: return view.getInt8(pos++);
      case 2: { const v = view.getUint16(pos, true); pos += 2; return v; }
      case 3: { const v = view.getInt16(pos, true); pos += 2; return v; }
      case 4: return u32();
      case 5: { const v = view.getInt32(pos, true); pos += 4; return v; }
      case 6: { const v = view.getFloat32(pos, true); pos += 4; return v; }
      case 7: return view.getUint8(pos++) !== 0;
      case 8: return str();
      case 9: {
        const itemType = u32();
        const n = u64();
        const out: unknown[] = new Array(n);
        for (let i = 0; i < n; i++) out[i] = value(itemType);
        return out;
      }
      case 10: return u64();
      case 11: { const v = Number(view.getBigInt64(pos, true)); pos += 8; return v; }
      case 12: { const v = view.getFloat64(pos, true); pos += 8; return v; }
      default: throw new Error(`GGUF value type ${type} at byte ${pos}`);
    }
  };
  if (text.decode(bytes.subarray(0, 4)) !== 'GGUF') throw new Error('not a GGUF file');
  pos = 4;
  const version = u32();
  if (version < 2) throw new Error(`GGUF v${version}`);
  u64(); // tensor count
  const kvCount = u64();
  const md = new Map<string, unknown>();
  for (let i = 0; i < kvCount; i++) {
    const key = str();
    md.set(key, value(u32()));
  }
  return md;
}
