/**
 * Synthetic GGUF models at real shapes, written to disk tensor by tensor (never a whole model in
 * JS memory) and kept in bench/out/models/ between runs: generating Qwen2.5-0.5B's weights takes
 * the better part of a minute in JS, reading them back takes a second.
 */
import { closeSync, existsSync, mkdirSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ByteWriter } from '../../src/formats/byte-writer.js';
import { GGUF_VALUE_TYPES } from '../../src/formats/gguf.js';
import { GGML_TYPE_IDS } from '../../src/formats/ggml-types.js';
import type { GgufMetadataEntry } from '../../src/formats/gguf-writer.js';
import { syntheticGgufMetadata, syntheticGgufTensors, type GgufFileType, type SyntheticSpec } from '../../test/fixtures/synthetic.js';

/** bench/out/models/, or $HEARTH_BENCH_MODELS (the GPU bundle keeps its generated models beside itself). */
export const MODEL_CACHE = process.env.HEARTH_BENCH_MODELS || new URL('../out/models/', import.meta.url).pathname;
const ALIGN = 32;
/** Bump when the layout or the values change, so stale cached files are not reused. */
const VERSION = 1;

/** What the synthetic files come in: F32, F16, Q8_0, Q4_0, any ggml type the fixtures encode, or a Q4_K_M mix. */
export type GgufType = GgufFileType;

function str(w: ByteWriter, s: string): void {
  const b = w.utf8(s);
  w.u64(b.byteLength);
  w.bytes(b);
}

function scalar(w: ByteWriter, type: string, v: unknown): void {
  switch (type) {
    case 'string':
      return str(w, v as string);
    case 'u32':
      return w.u32(v as number);
    case 'i32':
      return w.i32(v as number);
    case 'f32':
      return w.f32(v as number);
    case 'bool':
      return w.u8(v ? 1 : 0);
    default:
      throw new Error(`gguf-file: metadata type ${type} not handled`);
  }
}

function header(metadata: GgufMetadataEntry[], tensors: { name: string; type: Exclude<GgufType, 'Q4_K_M'>; shape: number[]; byteLength: number }[]): Uint8Array {
  const w = new ByteWriter();
  w.bytes(w.utf8('GGUF'));
  w.u32(3);
  w.u64(tensors.length);
  w.u64(metadata.length);
  for (const m of metadata) {
    str(w, m.key);
    w.u32(GGUF_VALUE_TYPES[m.type]);
    if (m.type === 'array') {
      const items = m.value as ArrayLike<unknown>;
      w.u32(GGUF_VALUE_TYPES[m.itemType!]);
      w.u64(items.length);
      for (let i = 0; i < items.length; i++) scalar(w, m.itemType!, items[i]);
    } else {
      scalar(w, m.type, m.value);
    }
  }
  let offset = 0;
  for (const t of tensors) {
    str(w, t.name);
    w.u32(t.shape.length);
    for (let d = t.shape.length - 1; d >= 0; d--) w.u64(t.shape[d]!);
    w.u32(GGML_TYPE_IDS[t.type]);
    w.u64(offset);
    offset = Math.ceil((offset + t.byteLength) / ALIGN) * ALIGN;
  }
  const h = w.result();
  const padded = new Uint8Array(Math.ceil(h.byteLength / ALIGN) * ALIGN);
  padded.set(h);
  return padded;
}

/** Stream the synthetic model `spec` in `type` into `path`. */
export function writeSyntheticGguf(spec: SyntheticSpec, type: GgufType, path: string): void {
  const tensors = syntheticGgufTensors(spec, type);
  const tmp = `${path}.partial`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, header(syntheticGgufMetadata(spec), tensors));
    for (const t of tensors) {
      let n = 0;
      for (const c of t.chunks()) {
        writeSync(fd, c);
        n += c.byteLength;
      }
      if (n !== t.byteLength) throw new Error(`gguf-file: ${t.name} produced ${n} bytes, expected ${t.byteLength}`);
      const pad = Math.ceil(n / ALIGN) * ALIGN - n;
      if (pad) writeSync(fd, new Uint8Array(pad));
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** The cached file of `name` in `type`, written first if missing. */
export function syntheticGgufFile(name: string, spec: SyntheticSpec, type: GgufType, log: (s: string) => void = () => {}): string {
  mkdirSync(MODEL_CACHE, { recursive: true });
  const path = join(MODEL_CACHE, `${name}-seed${spec.seed}-v${VERSION}.${type}.gguf`);
  if (!existsSync(path)) {
    const t0 = performance.now();
    writeSyntheticGguf(spec, type, path);
    log(`wrote ${path} (${(statSync(path).size / 1e6).toFixed(0)} MB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  return path;
}
