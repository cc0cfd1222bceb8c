/**
 * Hearth fuzzes itself (issue 16): mutated model files (GGUF headers and metadata, safetensors
 * headers and index files, config.json, tokenizer.json, tokenizer_config.json with its chat
 * template), session export files and OpenAI request bodies, each through the public entry
 * points (createEngine from src/node.ts on temp files, the OpenAI-style API, engine.sessions),
 * with a time limit per case. Every case is reproducible from (seed, index) alone. The only
 * acceptable outcomes are "ran" and "typed error" (a HearthError with a message); anything else
 * (an untyped error, a timeout) is a finding. Process crashes and synchronous hangs are caught one
 * level up, by the runner that watches a child process (test/fuzz/cli.ts).
 */
import { rng } from '../helpers/random.js';
import { mkdirSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HearthError } from '../../src/errors.js';
import { createEngine, type NodeEngine } from '../../src/node.js';
import { createNodeGpuContext } from '../../src/gpu/node.js';
import type { GpuContext } from '../../src/gpu/device.js';
import { writeGguf, type GgufMetadataEntry, type GgufTensorInput } from '../../src/formats/gguf-writer.js';
import { readGgufHeader } from '../../src/formats/gguf.js';
import { MemoryByteSource } from '../../src/hub/memory.js';
import { packArchive, unpackArchive } from '../../src/sessions/archive.js';
import { syntheticGgufMetadata, syntheticWeights, writeGgufModel, writeHfModel, type SyntheticSpec } from '../fixtures/synthetic.js';
import { writeSafetensors, writeSafetensorsIndex } from '../../src/formats/safetensors-writer.js';
import { sourceTensorName } from '../../src/formats/tensors.js';
import { quantize } from '../../src/quant/formats.js';

export const KINDS = ['gguf-meta', 'gguf-blind', 'safetensors-header', 'safetensors-index', 'config', 'tokenizer-json', 'tokenizer-config', 'session', 'request'] as const;
export type Kind = (typeof KINDS)[number];

export type Outcome = 'ran' | 'typed' | 'untyped' | 'timeout' | 'crash';

export interface CaseResult {
  index: number;
  kind: Kind;
  outcome: Outcome;
  /** The HearthError code, for typed errors. */
  code?: string;
  /** What went wrong: the message of a typed error; name, message and stack of anything else. */
  error?: string;
  /** What the case did to its input, to read along with the reproduction. */
  mutation: string;
  ms: number;
}

// ---- seeded randomness ------------------------------------------------------------------------

/** mulberry32 of a 32-bit seed (the tests' seeded generator). */
export const prng = rng;

/** The seed of case `index` of run `seed`: each case can run alone. */
export function caseSeed(seed: number, index: number): number {
  let h = Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 0x632be5ab, 0x85ebca77);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}

class Rand {
  constructor(readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

export function kindOf(seed: number, index: number, kinds: readonly Kind[] = KINDS): Kind {
  return kinds[caseSeed(seed ^ 0x5bd1e995, index) % kinds.length]!;
}

// ---- generic mutators -------------------------------------------------------------------------

const INTERESTING_NUMBERS = [0, 1, 2, 3, 7, 8, 31, 32, 33, 255, 256, 1023, 1024, 1025, 4096, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53 + 2, 1e9, 1e12, 1e300, -1, -2, -(2 ** 31), 0.5, 1.5, -0.0, 1e-30, NaN, Infinity, -Infinity];
const INTERESTING_U64 = [0n, 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 64n - 1n, 1000000000n];
const NASTY_STRINGS = ['', ' ', '\u0000', '\uFFFD', '\uD800', 'a'.repeat(10000), '{{', '{%', '../../etc/passwd', '__proto__', 'constructor', 'null', '1e400', '-0', '\n\r\t', '🔥'.repeat(100), '<s>', '</s>', '<|im_start|>', '<unk>'];

function interestingJson(r: Rand): unknown {
  switch (r.int(9)) {
    case 0:
    case 1: {
      const n = r.pick(INTERESTING_NUMBERS);
      return Number.isFinite(n) ? n : r.pick([1e308 * 10 > 0 ? 1.7976931348623157e308 : 0, -1.7976931348623157e308]);
    }
    case 2:
      return r.pick(NASTY_STRINGS);
    case 3:
      return null;
    case 4:
      return r.chance(0.5);
    case 5:
      return [];
    case 6:
      return {};
    case 7: {
      // deep nesting
      let v: unknown = 1;
      for (let i = 0; i < 1 + r.int(3000); i++) v = r.chance(0.5) ? [v] : { a: v };
      return v;
    }
    default:
      return Array.from({ length: r.int(50) }, () => r.int(100000) - 10);
  }
}

type JsonPath = (string | number)[];

function jsonPaths(v: unknown, path: JsonPath = [], out: JsonPath[] = [], depth = 0): JsonPath[] {
  out.push(path);
  if (depth > 12 || out.length > 5000) return out;
  if (Array.isArray(v)) {
    // sample long arrays
    const n = v.length;
    const idx = n <= 8 ? [...Array(n).keys()] : [0, 1, n - 1, Math.floor(n / 2)];
    for (const i of idx) jsonPaths(v[i], [...path, i], out, depth + 1);
  } else if (v && typeof v === 'object') {
    for (const k of Object.keys(v)) jsonPaths((v as Record<string, unknown>)[k], [...path, k], out, depth + 1);
  }
  return out;
}

function getAt(root: unknown, path: JsonPath): unknown {
  let v = root;
  for (const p of path) v = (v as Record<string | number, unknown>)?.[p];
  return v;
}

/** A structure-aware mutation of a JSON value: returns the new root and what was done. */
export function mutateJson(root: unknown, r: Rand, keys: readonly string[] = []): { value: unknown; what: string } {
  const clone = structuredClone(root);
  const paths = jsonPaths(clone);
  const ops: string[] = [];
  const rounds = 1 + r.int(3);
  let value = clone;
  for (let k = 0; k < rounds; k++) {
    const path = r.pick(paths);
    const parent = path.length ? getAt(value, path.slice(0, -1)) : undefined;
    // an earlier round may have replaced this path's container
    if (path.length && (parent === null || typeof parent !== 'object')) continue;
    const last = path[path.length - 1];
    const where = path.join('.') || '(root)';
    const op = r.int(6);
    if (op <= 2 || path.length === 0) {
      const nv = interestingJson(r);
      if (path.length === 0) value = nv as typeof value;
      else (parent as Record<string | number, unknown>)[last!] = nv;
      ops.push(`${where}=${short(nv)}`);
    } else if (op === 3 && parent && typeof parent === 'object') {
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else delete (parent as Record<string, unknown>)[last as string];
      ops.push(`delete ${where}`);
    } else if (op === 4) {
      const target = getAt(value, path);
      if (target && typeof target === 'object' && !Array.isArray(target)) {
        const key = keys.length && r.chance(0.7) ? r.pick(keys) : r.pick(['__proto__', 'extra', 'x'.repeat(300), '', 'constructor']);
        const nv = interestingJson(r);
        (target as Record<string, unknown>)[key] = nv;
        ops.push(`${where}.${key.slice(0, 20)}=${short(nv)}`);
      } else if (Array.isArray(target) && target.length) {
        const n = r.int(4) + 1;
        for (let i = 0; i < n; i++) target.push(structuredClone(target[r.int(target.length)]));
        ops.push(`dup ${where}`);
      }
    } else {
      // swap types: number <-> string
      const target = getAt(value, path);
      const nv = typeof target === 'number' ? String(target) : typeof target === 'string' ? Number(target) || target.length : [target];
      if (path.length && parent && typeof parent === 'object') (parent as Record<string | number, unknown>)[last!] = nv;
      ops.push(`retype ${where}`);
    }
  }
  return { value, what: ops.join('; ') };
}

function short(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** Blind byte mutations within [lo, hi) (and sometimes a truncation anywhere). */
export function mutateBytes(input: Uint8Array, r: Rand, lo = 0, hi = input.byteLength): { bytes: Uint8Array; what: string } {
  let b: Uint8Array = input.slice();
  const ops: string[] = [];
  const rounds = 1 + r.int(4);
  for (let k = 0; k < rounds; k++) {
    const span = Math.max(1, Math.min(hi, b.byteLength) - lo);
    const at = lo + r.int(span);
    const op = r.int(8);
    if (op === 0) {
      b[at] = (b[at] ?? 0) ^ (1 << r.int(8));
      ops.push(`flip@${at}`);
    } else if (op === 1) {
      b[at] = r.pick([0, 1, 0x7f, 0x80, 0xff, 0x20, 0x22, 0x7b]);
      ops.push(`byte@${at}`);
    } else if (op === 2 || op === 3) {
      const v = r.pick(INTERESTING_U64);
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const aligned = at - (at % 4);
      if (op === 2 && aligned + 4 <= b.byteLength) dv.setUint32(aligned, Number(v & 0xffffffffn), true);
      else if (aligned + 8 <= b.byteLength) dv.setBigUint64(aligned, v, true);
      ops.push(`int@${aligned}=${v}`);
    } else if (op === 4) {
      const cut = r.int(b.byteLength + 1);
      b = b.slice(0, cut);
      ops.push(`truncate@${cut}`);
    } else if (op === 5) {
      const n = 1 + r.int(16);
      b = concat(b.subarray(0, at), b.subarray(Math.min(b.byteLength, at + n)));
      ops.push(`delete@${at}+${n}`);
    } else if (op === 6) {
      const ins = Uint8Array.from({ length: 1 + r.int(16) }, () => r.int(256));
      b = concat(b.subarray(0, at), ins, b.subarray(at));
      ops.push(`insert@${at}+${ins.length}`);
    } else {
      const n = 1 + r.int(64);
      const from = lo + r.int(span);
      b = concat(b.subarray(0, at), b.subarray(from, from + n), b.subarray(at));
      ops.push(`dup@${at}`);
    }
  }
  return { bytes: b, what: ops.join(' ') };
}

function mutateText(text: string, r: Rand): { text: string; what: string } {
  const { bytes, what } = mutateBytes(new TextEncoder().encode(text), r);
  return { text: new TextDecoder().decode(bytes), what };
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

// ---- base inputs ------------------------------------------------------------------------------

const SPEC: SyntheticSpec = { arch: 'llama', hidden: 32, intermediate: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 8, vocab: 300, tied: false, ropeTheta: 10000, maxPositions: 128, seed: 5 };
export const STORIES = process.env.HEARTH_STORIES ?? new URL('../../../shared/models/stories260K/stories260K.gguf', import.meta.url).pathname;

interface Bases {
  ggufMeta: GgufMetadataEntry[];
  ggufTensors: GgufTensorInput[];
  gguf: Uint8Array;
  ggufDataOffset: number;
  stories: Uint8Array | null;
  storiesDataOffset: number;
  hf: Map<string, Uint8Array>;
  hfSharded: Map<string, Uint8Array>;
  hfTokenizerWithTemplate: Record<string, unknown>;
}

let bases: Promise<Bases> | null = null;

function getBases(): Promise<Bases> {
  bases ??= (async () => {
    const w = syntheticWeights(SPEC);
    const ggufMeta = syntheticGgufMetadata(SPEC);
    const gguf = writeGgufModel(SPEC, w, 'Q8_0', ggufMeta);
    const header = await readGgufHeader(new MemoryByteSource('model.gguf', gguf));
    // the same tensors as writer input, for structure-aware mutation
    const ggufTensors: GgufTensorInput[] = header.tensors.map((t) => {
      const len = tensorBytes(header, t.name, gguf.byteLength);
      return { name: t.name, type: t.type, shape: [...t.dims].reverse(), data: gguf.subarray(header.dataOffset + t.offset, header.dataOffset + t.offset + len) };
    });
    const stories = existsSync(STORIES) ? new Uint8Array(readFileSync(STORIES)) : null;
    const storiesDataOffset = stories ? (await readGgufHeader(new MemoryByteSource('stories.gguf', stories))).dataOffset : 0;
    const hf = writeHfModel(SPEC, w, 'F32');
    // a sharded copy with an index
    const entries = [...w.entries()].map(([name, v]) => ({ name: sourceTensorName(name, 'hf'), dtype: 'F32' as const, shape: v.shape, data: quantize('f32', v.data) }));
    const half = Math.ceil(entries.length / 2);
    const shards = [entries.slice(0, half), entries.slice(half)];
    const hfSharded = new Map([...hf].filter(([k]) => k !== 'model.safetensors'));
    const weightMap: Record<string, string> = {};
    shards.forEach((part, i) => {
      const name = `model-0000${i + 1}-of-00002.safetensors`;
      for (const e of part) weightMap[e.name] = name;
      hfSharded.set(name, writeSafetensors(part, { format: 'pt' }));
    });
    hfSharded.set('model.safetensors.index.json', new TextEncoder().encode(writeSafetensorsIndex(weightMap)));
    const hfTokenizerWithTemplate = {
      bos_token: null,
      eos_token: '<|endoftext|>',
      add_bos_token: false,
      chat_template: "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    };
    return { ggufMeta, ggufTensors, gguf, ggufDataOffset: header.dataOffset, stories, storiesDataOffset, hf, hfSharded, hfTokenizerWithTemplate };
  })();
  return bases;
}

function tensorBytes(header: Awaited<ReturnType<typeof readGgufHeader>>, name: string, fileSize: number): number {
  const sorted = [...header.tensors].sort((a, b) => a.offset - b.offset);
  const i = sorted.findIndex((t) => t.name === name);
  const start = sorted[i]!.offset;
  const end = i + 1 < sorted.length ? sorted[i + 1]!.offset : fileSize - header.dataOffset;
  // the writer pads to the alignment; the exact size is what the type and shape say, which the
  // writer recomputes, so hand it the unpadded length where we can tell it
  const t = sorted[i]!;
  const elems = t.dims.reduce((a, b) => a * b, 1);
  const exact = t.type === 0 ? elems * 4 : t.type === 1 ? elems * 2 : t.type === 8 ? (elems / 32) * 34 : end - start;
  return Math.min(exact, end - start);
}

// ---- input makers: one per kind ---------------------------------------------------------------

type ModelFiles = Map<string, Uint8Array>;

interface ModelCase {
  files: ModelFiles;
  what: string;
  /** Run a chat turn with this template-sensitive prompt too. */
  chat?: boolean;
}

const GGUF_TYPES: GgufMetadataEntry['type'][] = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'u64', 'i64', 'f64'];

function ggufMetaCase(b: Bases, r: Rand): ModelCase {
  const meta = b.ggufMeta.map((m) => ({ ...m }));
  let tensors = b.ggufTensors.map((t) => ({ ...t }));
  const ops: string[] = [];
  const rounds = 1 + r.int(3);
  for (let k = 0; k < rounds; k++) {
    const op = r.int(10);
    if (op <= 4) {
      // a value: interesting number in some integer/float type, or another type altogether
      const i = r.int(meta.length);
      const m = meta[i]!;
      if (m.type === 'array') {
        const arr = Array.from(m.value as ArrayLike<unknown>);
        const cut = r.pick([0, 1, 3, 258, arr.length - 1, arr.length + 5]);
        const next = arr.slice(0, Math.max(0, cut));
        while (next.length < cut) next.push(m.itemType === 'string' ? r.pick(NASTY_STRINGS) : r.pick([0, -1, 3, 1e9]));
        if (m.itemType === 'string' && next.length && r.chance(0.5)) next[r.int(next.length)] = r.pick(NASTY_STRINGS);
        meta[i] = { ...m, value: next as never };
        ops.push(`${m.key}[len ${next.length}]`);
      } else {
        const type = r.chance(0.7) ? m.type : r.pick(GGUF_TYPES);
        const value =
          type === 'string' ? r.pick([...NASTY_STRINGS, 'llama', 'qwen2', 'gemma3', 'bert']) : type === 'bool' ? r.chance(0.5) : type === 'u64' || type === 'i64' ? r.pick(INTERESTING_U64) : r.pick(INTERESTING_NUMBERS);
        meta[i] = { key: m.key, type, value: value as never };
        ops.push(`${m.key}=${type}:${String(value).slice(0, 20)}`);
      }
    } else if (op === 5) {
      const i = r.int(meta.length);
      ops.push(`drop ${meta[i]!.key}`);
      meta.splice(i, 1);
    } else if (op === 6) {
      const key = r.pick(['general.alignment', 'llama.rope.scaling.type', 'llama.rope.scale_linear', 'llama.vocab_size', 'tokenizer.chat_template', 'tokenizer.ggml.pre', 'tokenizer.ggml.merges', 'llama.attention.head_count_kv', 'tokenizer.ggml.add_bos_token', 'general.file_type', 'tokenizer.ggml.eot_token_id']);
      if (meta.some((m) => m.key === key)) continue;
      const value = key === 'tokenizer.chat_template' ? r.pick(TEMPLATES) : key.includes('scaling.type') || key.endsWith('.pre') ? r.pick(['linear', 'yarn', 'none', 'llama3', 'gpt2', '']) : r.pick(INTERESTING_NUMBERS.filter((n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32));
      meta.push({ key, type: typeof value === 'string' ? 'string' : key === 'general.alignment' ? 'u32' : 'u32', value });
      ops.push(`add ${key}`);
    } else if (op === 7) {
      const i = r.int(tensors.length);
      ops.push(`drop tensor ${tensors[i]!.name}`);
      tensors.splice(i, 1);
    } else if (op === 8) {
      const i = r.int(tensors.length);
      const name = r.pick(['blk.2.attn_q.weight', 'blk.7.attn_norm.weight', 'blk.0.attn_q.weight', 'token_embd.weight', 'output.weight', 'rope_freqs.weight', 'blk.4294967295.ffn_up.weight', 'x'.repeat(200)]);
      ops.push(`rename ${tensors[i]!.name}->${name.slice(0, 30)}`);
      tensors[i] = { ...tensors[i]!, name };
    } else {
      const i = r.int(tensors.length);
      const t = tensors[i]!;
      const type = r.pick([0, 1, 2, 3, 8, 12, 14, 16, 30, 39, 40, 1000]);
      ops.push(`retype ${t.name}->${type}`);
      tensors[i] = { ...t, type, data: t.data.subarray(0, Math.min(t.data.byteLength, r.int(t.data.byteLength + 1))) };
    }
  }
  // duplicate tensor names would make the writer lay out garbage: keep the first
  const seen = new Set<string>();
  tensors = tensors.filter((t) => !seen.has(t.name) && !!seen.add(t.name));
  let bytes: Uint8Array;
  try {
    bytes = writeGguf({ metadata: meta, tensors, alignment: 32 });
  } catch {
    // the writer refuses some combinations (a value out of its type's range): mutate blind instead
    const m = mutateBytes(b.gguf, r, 0, b.ggufDataOffset);
    return { files: new Map([['model.gguf', m.bytes]]), what: `${ops.join('; ')} (unwritable; blind ${m.what})` };
  }
  return { files: new Map([['model.gguf', bytes]]), what: ops.join('; '), chat: true };
}

function ggufBlindCase(b: Bases, r: Rand): ModelCase {
  const useStories = b.stories && r.chance(0.3);
  const base = useStories ? b.stories! : b.gguf;
  const dataOffset = useStories ? b.storiesDataOffset : b.ggufDataOffset;
  // mostly the header: data bytes only change numbers, and take a full load to reach
  const hi = r.chance(0.9) ? dataOffset : base.byteLength;
  const m = mutateBytes(base, r, 0, hi);
  return { files: new Map([['model.gguf', m.bytes]]), what: `${useStories ? 'stories260K' : 'synthetic'} ${m.what}` };
}

function safetensorsHeaderCase(b: Bases, r: Rand): ModelCase {
  const files = new Map(b.hf);
  const st = files.get('model.safetensors')!;
  const len = Number(new DataView(st.buffer, st.byteOffset).getBigUint64(0, true));
  if (r.chance(0.6)) {
    const header = JSON.parse(new TextDecoder().decode(st.subarray(8, 8 + len))) as Record<string, unknown>;
    const m = mutateJson(header, r, ['dtype', 'shape', 'data_offsets', '__metadata__', 'model.layers.9.mlp.up_proj.weight']);
    const text = new TextEncoder().encode(JSON.stringify(m.value));
    const out = new Uint8Array(8 + text.byteLength + (st.byteLength - 8 - len));
    new DataView(out.buffer).setBigUint64(0, BigInt(text.byteLength), true);
    out.set(text, 8);
    out.set(st.subarray(8 + len), 8 + text.byteLength);
    files.set('model.safetensors', out);
    return { files, what: `header: ${m.what}` };
  }
  const m = mutateBytes(st, r, 0, 8 + len);
  files.set('model.safetensors', m.bytes);
  return { files, what: `blind: ${m.what}` };
}

function safetensorsIndexCase(b: Bases, r: Rand): ModelCase {
  const files = new Map(b.hfSharded);
  const text = new TextDecoder().decode(files.get('model.safetensors.index.json'));
  if (r.chance(0.75)) {
    const m = mutateJson(JSON.parse(text), r, ['weight_map', 'metadata', 'model.norm.weight', 'lm_head.weight']);
    // sometimes point a tensor at a path outside the folder or at a missing shard
    let value = m.value as { weight_map?: Record<string, unknown> };
    let what = m.what;
    if (r.chance(0.3) && value && typeof value === 'object' && value.weight_map && typeof value.weight_map === 'object') {
      const keys = Object.keys(value.weight_map);
      if (keys.length) {
        const target = r.pick(['../../../etc/passwd', '/etc/passwd', 'missing.safetensors', 'config.json', 'model-00001-of-00002.safetensors', '', 'a/../../b.safetensors']);
        value = { ...value, weight_map: { ...value.weight_map, [r.pick(keys)]: target } };
        what += `; -> ${target}`;
      }
    }
    files.set('model.safetensors.index.json', new TextEncoder().encode(JSON.stringify(value)));
    return { files, what };
  }
  const m = mutateText(text, r);
  files.set('model.safetensors.index.json', new TextEncoder().encode(m.text));
  return { files, what: `blind: ${m.what}` };
}

const CONFIG_KEYS = ['num_hidden_layers', 'hidden_size', 'intermediate_size', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'vocab_size', 'max_position_embeddings', 'rope_theta', 'rope_scaling', 'rms_norm_eps', 'tie_word_embeddings', 'partial_rotary_factor', 'rope_parameters', 'architectures', 'model_type', 'eos_token_id', 'bos_token_id', 'attention_bias'];

function configCase(b: Bases, r: Rand): ModelCase {
  const files = new Map(b.hf);
  const text = new TextDecoder().decode(files.get('config.json'));
  let out: string;
  let what: string;
  if (r.chance(0.8)) {
    const json = JSON.parse(text) as Record<string, unknown>;
    if (r.chance(0.5)) {
      // a known field to an interesting value
      const key = r.pick(CONFIG_KEYS);
      const v = key === 'rope_scaling' ? r.pick([{ rope_type: 'llama3', factor: 8 }, { type: 'linear', factor: r.pick(INTERESTING_NUMBERS) }, { rope_type: 'yarn' }, 'x', []]) : key === 'architectures' ? r.pick([['GemmaForCausalLM'], [], [1], 'LlamaForCausalLM', ['Qwen3ForCausalLM']]) : interestingJson(r);
      json[key] = v;
      out = JSON.stringify(json);
      what = `${key}=${short(v)}`;
    } else {
      const m = mutateJson(json, r, CONFIG_KEYS);
      out = JSON.stringify(m.value);
      what = m.what;
    }
  } else {
    const m = mutateText(text, r);
    out = m.text;
    what = `blind: ${m.what}`;
  }
  files.set('config.json', new TextEncoder().encode(out));
  return { files, what };
}

function tokenizerJsonCase(b: Bases, r: Rand): ModelCase {
  const files = new Map(b.hf);
  const text = new TextDecoder().decode(files.get('tokenizer.json'));
  let out: string;
  let what: string;
  if (r.chance(0.8)) {
    const json = JSON.parse(text) as Record<string, unknown>;
    if (r.chance(0.4)) {
      const key = r.pick(['normalizer', 'pre_tokenizer', 'post_processor', 'decoder', 'model.type', 'model.merges', 'added_tokens', 'model.byte_fallback', 'model.unk_token']);
      const v = r.pick<unknown>([
        null,
        { type: 'ByteLevel', add_prefix_space: true },
        { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: r.pick(['(', '\\p{L}+', '(a+)+$', '[', '.*']) }, behavior: 'Isolated' }] },
        { type: 'Unknown' },
        { type: 'NFKC' },
        { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<missing>', type_id: 0 } }], special_tokens: {} },
        'WordPiece',
        'Unigram',
        [['a', 'b'], ['\u0120', 't']],
        [{ id: 1e9, content: 'x', special: true }],
        [{ id: -1, content: '', special: true }],
        true,
        '<|missing|>',
      ]);
      if (key.startsWith('model.')) (json.model as Record<string, unknown>)[key.slice(6)] = v;
      else json[key] = v;
      out = JSON.stringify(json);
      what = `${key}=${short(v)}`;
    } else {
      const m = mutateJson(json, r, ['type', 'vocab', 'merges', 'added_tokens', 'normalizer', 'decoder']);
      out = JSON.stringify(m.value);
      what = m.what;
    }
  } else {
    const m = mutateText(text, r);
    out = m.text;
    what = `blind: ${m.what}`;
  }
  files.set('tokenizer.json', new TextEncoder().encode(out));
  return { files, what, chat: true };
}

/** Chat templates: valid, broken, hostile. */
const TEMPLATES = [
  "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
  '{{ bos_token }}{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}',
  '{% for m in messages %}',
  '{{ messages[0].content | upper }',
  "{{ raise_exception('Only user and assistant roles are supported!') }}",
  '{{ undefined_variable.attribute.deeper }}',
  '{% for i in range(100000) %}x{% endfor %}',
  '{% for i in range(3000) %}{{ messages[0].content }}{% endfor %}',
  "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
  '{{ messages | tojson }}',
  '{{ messages[99].content }}',
  '{% set x = namespace(a=1) %}{{ x.a }}{{ x.b.c }}',
  "{{ 'a' * 1000000 }}",
  '{% if %}{% endif %}',
  '{{ 1 / 0 }}',
  '{% for m in messages %}{{ m.content[::-1] }}{% endfor %}',
  '{{ strftime_now("%Y") }}',
  '',
  '{# unterminated comment',
  "{{ messages[0]['content'].split('x') | join('y') }}",
];

function tokenizerConfigCase(b: Bases, r: Rand): ModelCase {
  const files = new Map(b.hf);
  const base = structuredClone(b.hfTokenizerWithTemplate);
  let out: string;
  let what: string;
  const op = r.int(4);
  if (op <= 1) {
    let t = r.pick(TEMPLATES);
    if (op === 1) t = mutateText(t, r).text;
    base.chat_template = r.chance(0.2) ? [{ name: 'default', template: t }, { name: 'tool_use', template: 1 }] : t;
    out = JSON.stringify(base);
    what = `chat_template=${short(t)}`;
  } else if (op === 2) {
    const m = mutateJson(base, r, ['chat_template', 'bos_token', 'eos_token', 'add_bos_token', 'add_eos_token', 'added_tokens_decoder', 'unk_token']);
    out = JSON.stringify(m.value);
    what = m.what;
  } else {
    const m = mutateText(JSON.stringify(base), r);
    out = m.text;
    what = `blind: ${m.what}`;
  }
  files.set('tokenizer_config.json', new TextEncoder().encode(out));
  return { files, what, chat: true };
}

// ---- running a case ---------------------------------------------------------------------------

export interface FuzzContext {
  gpu: GpuContext;
  /** stories260K loaded once, for request and session cases. */
  stories: NodeEngine;
  sessionFile: Uint8Array;
  dir: string;
  bases: Bases;
}

export async function openFuzzContext(): Promise<FuzzContext> {
  const gpu = await createNodeGpuContext();
  const stories = await createEngine({ model: STORIES, gpu, contextLength: 64 });
  const s = await stories.sessions.create({ title: 'fuzz', messages: [{ role: 'user', content: 'Once upon a time' }] });
  await stories.sessions.chat(s.id, { max_tokens: 4, temperature: 0 });
  const sessionFile = new Uint8Array(await (await stories.sessions.export(s.id)).arrayBuffer());
  const shm = '/dev/shm';
  const dir = join(existsSync(shm) ? shm : tmpdir(), `hearth-fuzz-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  return { gpu, stories, sessionFile, dir, bases: await getBases() };
}

export async function closeFuzzContext(f: FuzzContext): Promise<void> {
  await f.stories.unload().catch(() => undefined);
  f.gpu.destroy();
  rmSync(f.dir, { recursive: true, force: true });
}

async function runModelCase(f: FuzzContext, c: ModelCase, index: number, signal: AbortSignal): Promise<void> {
  const folder = join(f.dir, `case-${index}`);
  mkdirSync(folder, { recursive: true });
  try {
    for (const [name, bytes] of c.files) writeFileSync(join(folder, name), bytes);
    const single = c.files.size === 1 && c.files.has('model.gguf');
    const engine = await createEngine({ model: single ? join(folder, 'model.gguf') : folder, gpu: f.gpu, contextLength: 96, signal });
    try {
      await engine.completions.create({ prompt: 'Once', max_tokens: 2, temperature: 0 }, { signal });
      await engine.completions.create({ prompt: [1, 2, 3], max_tokens: 1, temperature: 0.8, top_k: 5, seed: index }, { signal });
      if (c.chat) await engine.chat.completions.create({ messages: [{ role: 'system', content: 'Hi' }, { role: 'user', content: 'Yo' }], max_tokens: 2 }, { signal });
    } finally {
      await engine.unload();
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

const PARAM_KEYS = ['model', 'messages', 'prompt', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'top_k', 'min_p', 'frequency_penalty', 'presence_penalty', 'repetition_penalty', 'seed', 'stop', 'stop_token_ids', 'ignore_eos', 'logprobs', 'top_logprobs', 'n', 'stream', 'stream_options', 'user', 'metadata', 'store', 'response_format', 'tools', 'logit_bias', 'echo', 'best_of', 'suffix', 'unknown_param', 'hearth', 'role', 'content'];

function requestCase(r: Rand): { chat: boolean; params: Record<string, unknown>; abortAfterMs: number | null; what: string } {
  const chat = r.chance(0.55);
  const base: Record<string, unknown> = chat
    ? { messages: [{ role: 'system', content: 'You tell stories.' }, { role: 'user', content: 'Once upon a time' }], max_tokens: 6, temperature: 0 }
    : { prompt: r.chance(0.5) ? 'Once upon a time' : [1, 403, 407], max_tokens: 6 };
  if (r.chance(0.3)) base.stream = true;
  const ops: string[] = [];
  let params = base;
  if (r.chance(0.5)) {
    const n = 1 + r.int(3);
    for (let i = 0; i < n; i++) {
      const key = r.pick(PARAM_KEYS);
      const v = key === 'messages' ? r.pick<unknown>([[{ role: r.pick(['user', 'wizard', 'developer', 'tool', '', 'assistant']), content: r.pick(NASTY_STRINGS) }], [{ role: 'user' }], [null], 'hi', [{ role: 'user', content: ['a'] }]]) : key === 'prompt' ? r.pick<unknown>([[], [1e9], [-1], [1.5], '', 'x'.repeat(5000), [[1, 2]], Array(100).fill(5)]) : interestingJson(r);
      params[key] = v;
      ops.push(`${key}=${short(v)}`);
    }
  } else {
    const m = mutateJson(base, r, PARAM_KEYS);
    params = (m.value && typeof m.value === 'object' ? m.value : { value: m.value }) as Record<string, unknown>;
    ops.push(m.what);
  }
  // generation stays short whatever max_tokens says: the context is 64 tokens
  const abortAfterMs = r.chance(0.1) ? r.int(50) : null;
  if (abortAfterMs !== null) ops.push(`abort after ${abortAfterMs} ms`);
  return { chat, params, abortAfterMs, what: `${chat ? 'chat' : 'completion'}: ${ops.join('; ')}` };
}

async function runRequest(f: FuzzContext, q: ReturnType<typeof requestCase>, signal: AbortSignal): Promise<void> {
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const timer = q.abortAfterMs === null ? null : setTimeout(() => ctrl.abort(new HearthError('ABORTED', 'fuzz abort')), q.abortAfterMs);
  try {
    const api = q.chat ? f.stories.chat.completions : f.stories.completions;
    const res = await (api.create as (p: unknown, o: unknown) => Promise<unknown>)(q.params, { signal: ctrl.signal });
    if (res && typeof res === 'object' && Symbol.asyncIterator in res) for await (const _ of res as AsyncIterable<unknown>);
  } finally {
    if (timer) clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

function sessionCase(f: FuzzContext, r: Rand): { bytes: Uint8Array; what: string } {
  if (r.chance(0.5)) {
    const m = mutateBytes(f.sessionFile, r);
    return { bytes: m.bytes, what: `blind: ${m.what}` };
  }
  const files: { name: string; bytes: Uint8Array }[] = unpackArchive(f.sessionFile).map((x) => ({ name: x.name, bytes: x.bytes.slice() }));
  const i = r.int(files.length);
  const file = files[i]!;
  let what: string;
  const text = new TextDecoder('utf-8', { fatal: false }).decode(file.bytes);
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (a KV chunk, or a sealed file)
  }
  if (json !== undefined && r.chance(0.8)) {
    const m = mutateJson(json, r, ['tokens', 'chunks', 'messages', 'model', 'gen', 'kv', 'start', 'end', 'file', 'bytes', 'digest', 'format']);
    file.bytes = new TextEncoder().encode(JSON.stringify(m.value));
    what = `${file.name}: ${m.what}`;
  } else if (r.chance(0.3)) {
    file.name = r.pick(['../x', '', 'manifest-99.json', files[0]!.name, 'a'.repeat(300)]);
    what = `rename ${i} -> ${file.name.slice(0, 20)}`;
  } else {
    const m = mutateBytes(file.bytes, r);
    file.bytes = m.bytes;
    what = `${file.name}: blind ${m.what}`;
  }
  return { bytes: packArchive(files), what };
}

async function runSession(f: FuzzContext, bytes: Uint8Array, signal: AbortSignal): Promise<void> {
  const info = await f.stories.sessions.import(bytes);
  try {
    await f.stories.sessions.chat(info.id, { message: 'and then', max_tokens: 2, temperature: 0 }, { signal });
    await f.stories.sessions.get(info.id);
  } finally {
    await f.stories.sessions.delete(info.id).catch(() => undefined);
  }
}

/** Builds and runs case `index` of run `seed`, within `timeoutMs`. */
export async function runCase(f: FuzzContext, seed: number, index: number, timeoutMs: number, kinds: readonly Kind[] = KINDS): Promise<CaseResult> {
  const kind = kindOf(seed, index, kinds);
  const r = new Rand(prng(caseSeed(seed, index)));
  const t0 = performance.now();
  const ctrl = new AbortController();
  let mutation = '';
  const work = async (): Promise<void> => {
    switch (kind) {
      case 'gguf-meta':
      case 'gguf-blind':
      case 'safetensors-header':
      case 'safetensors-index':
      case 'config':
      case 'tokenizer-json':
      case 'tokenizer-config': {
        const make = { 'gguf-meta': ggufMetaCase, 'gguf-blind': ggufBlindCase, 'safetensors-header': safetensorsHeaderCase, 'safetensors-index': safetensorsIndexCase, config: configCase, 'tokenizer-json': tokenizerJsonCase, 'tokenizer-config': tokenizerConfigCase }[kind];
        const c = make(f.bases, r);
        mutation = c.what;
        return runModelCase(f, c, index, ctrl.signal);
      }
      case 'request': {
        const q = requestCase(r);
        mutation = q.what;
        return runRequest(f, q, ctrl.signal);
      }
      case 'session': {
        const s = sessionCase(f, r);
        mutation = s.what;
        return runSession(f, s.bytes, ctrl.signal);
      }
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), timeoutMs)));
  let outcome: Outcome;
  let code: string | undefined;
  let error: string | undefined;
  try {
    const w = work();
    const res = await Promise.race([w.then(() => 'ran' as const), timeout]);
    if (res === 'timeout') {
      outcome = 'timeout';
      error = `no answer within ${timeoutMs} ms`;
      ctrl.abort(new HearthError('ABORTED', 'fuzz case timed out'));
      // let it wind down so the next case starts clean
      await Promise.race([w.catch(() => undefined), new Promise((res2) => setTimeout(res2, timeoutMs))]);
    } else outcome = 'ran';
  } catch (e) {
    if (e instanceof HearthError && typeof e.code === 'string' && e.message.length > 0) {
      outcome = 'typed';
      code = e.code;
      error = e.message.slice(0, 300);
    } else {
      outcome = 'untyped';
      error = e instanceof Error ? `${e.name}: ${e.message}\n${(e.stack ?? '').split('\n').slice(1, 6).join('\n')}` : String(e);
    }
  } finally {
    clearTimeout(timer);
  }
  return { index, kind, outcome, code, error, mutation, ms: performance.now() - t0 };
}

export interface FuzzSummary {
  seed: number;
  cases: number;
  byKind: Record<string, Record<string, number>>;
  byCode: Record<string, number>;
  failures: CaseResult[];
  ms: number;
}

export function summarize(seed: number, results: CaseResult[], ms: number): FuzzSummary {
  const byKind: Record<string, Record<string, number>> = {};
  const byCode: Record<string, number> = {};
  for (const x of results) {
    const k = (byKind[x.kind] ??= { cases: 0, ran: 0, typed: 0, untyped: 0, timeout: 0, crash: 0 });
    k.cases!++;
    k[x.outcome] = (k[x.outcome] ?? 0) + 1;
    if (x.code) byCode[x.code] = (byCode[x.code] ?? 0) + 1;
  }
  return { seed, cases: results.length, byKind, byCode, failures: results.filter((x) => x.outcome !== 'ran' && x.outcome !== 'typed'), ms };
}
