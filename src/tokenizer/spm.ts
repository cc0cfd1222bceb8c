import type { TokenizerCore } from './assemble.js';
import { corruptFile } from './file-errors.js';
import { SpecialSplitter } from './special-splitter.js';

/** SentencePiece piece types; GGUF's tokenizer.ggml.token_type uses the same numbers. */
export const PieceType = {
  normal: 1,
  unknown: 2,
  control: 3,
  userDefined: 4,
  unused: 5,
  byte: 6,
} as const;

export interface SpmVocab {
  tokens: string[];
  scores: ArrayLike<number>;
  types: ArrayLike<number>;
  bosId: number | null;
  eosId: number | null;
  unkId: number | null;
  addBos: boolean;
  addEos: boolean;
  /** SentencePiece's add_dummy_prefix: text is encoded as if it began with a space. */
  addSpacePrefix: boolean;
  /** SentencePiece's remove_extra_whitespaces (trim, collapse runs of spaces); Llama's models turn it off. */
  removeExtraWhitespaces?: boolean;
  /** Applied to raw text first (SentencePiece models with an NFKC rule); identity when absent. */
  normalize?: (text: string) => string;
  /** Which file the vocabulary came from, for error messages. */
  file: string;
}

const SPACE = '\u2581';
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

interface Bigram {
  left: number;
  right: number;
  score: number;
  size: number;
}

/**
 * SentencePiece BPE as llama.cpp and sentencepiece run it: start from single characters and repeatedly merge
 * the adjacent pair whose concatenation is the highest-scoring piece (leftmost on ties); characters the vocabulary
 * lacks become <0xNN> byte tokens. Spaces are '▁' and the text gets a leading one (add_dummy_prefix), also after
 * each special token, as llama.cpp does.
 */
export function createSpmCore(v: SpmVocab): TokenizerCore {
  const n = v.tokens.length;
  if (v.scores.length !== n || v.types.length !== n) {
    throw corruptFile(v.file, `has ${n} tokens but ${v.scores.length} scores and ${v.types.length} token types`);
  }
  const idOf = new Map<string, number>();
  // only normal and user-defined pieces take part in merges, as in sentencepiece; control text never forms from characters
  const mergeable = new Map<string, number>();
  const byteIds = new Int32Array(256).fill(-1);
  const byteOf = new Int16Array(n).fill(-1);
  const specials: Array<{ text: string; id: number }> = [];
  for (let id = 0; id < n; id++) {
    const text = v.tokens[id]!;
    const type = v.types[id]!;
    // a text listed twice maps to its last id, as llama.cpp's token_to_id does (Gemma 3's vocabulary
    // has such duplicates, e.g. '#' at 208867 and 236865): GGUF's tokenization is llama.cpp's
    idOf.set(text, id);
    if (type === PieceType.byte) {
      const m = BYTE_TOKEN.exec(text);
      if (!m) throw corruptFile(v.file, `byte token ${id} is ${JSON.stringify(text)}, not <0xNN>`);
      const b = parseInt(m[1]!, 16);
      byteOf[id] = b;
      if (byteIds[b] === -1) byteIds[b] = id;
    } else if (type === PieceType.normal || type === PieceType.userDefined) {
      mergeable.set(text, id);
    }
    if (type === PieceType.control || type === PieceType.userDefined || type === PieceType.unknown) {
      specials.push({ text, id });
    }
  }
  const splitter = new SpecialSplitter(specials);
  const encoder = new TextEncoder();
  const isSpecialType = (t: number): boolean =>
    t === PieceType.control || t === PieceType.unknown || t === PieceType.unused;

  function pushPiece(piece: string, out: number[]): void {
    const id = mergeable.get(piece);
    if (id !== undefined) {
      out.push(id);
      return;
    }
    for (const b of encoder.encode(piece)) {
      const bid = byteIds[b]!;
      if (bid >= 0) out.push(bid);
      else if (v.unkId !== null) out.push(v.unkId);
    }
  }

  function encodeSegment(text: string, out: number[]): void {
    const chars = Array.from(text);
    const count = chars.length;
    if (count === 0) return;
    const start = new Int32Array(count);
    const len = new Int32Array(count);
    const prev = new Int32Array(count);
    const next = new Int32Array(count);
    let offset = 0;
    for (let i = 0; i < count; i++) {
      start[i] = offset;
      len[i] = chars[i]!.length;
      offset += len[i]!;
      prev[i] = i - 1;
      next[i] = i + 1 < count ? i + 1 : -1;
    }
    const heap = new BigramHeap();
    const tryAdd = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const size = len[left]! + len[right]!;
      const id = mergeable.get(text.substr(start[left]!, size));
      if (id !== undefined) heap.push({ left, right, score: v.scores[id]!, size });
    };
    for (let i = 1; i < count; i++) tryAdd(i - 1, i);
    for (let b = heap.pop(); b !== undefined; b = heap.pop()) {
      const { left, right } = b;
      // stale entry: one side was merged away or grew since this pair was queued
      if (len[left] === 0 || len[right] === 0 || len[left]! + len[right]! !== b.size) continue;
      len[left] = b.size;
      len[right] = 0;
      next[left] = next[right]!;
      if (next[right]! >= 0) prev[next[right]!] = left;
      tryAdd(prev[left]!, left);
      tryAdd(left, next[left]!);
    }
    for (let i = 0; i !== -1; i = next[i]!) pushPiece(text.substr(start[i]!, len[i]!), out);
  }

  function prepare(text: string, prefixSpace: boolean): string {
    let t = v.normalize ? v.normalize(text) : text;
    if (v.removeExtraWhitespaces) t = t.replace(/ +/g, ' ').replace(/^ | $/g, '');
    if (prefixSpace) t = ' ' + t;
    return t.replaceAll(' ', SPACE);
  }

  return {
    vocabSize: n,
    bosId: v.bosId,
    encode(text, addSpecialTokens) {
      const out: number[] = [];
      if (addSpecialTokens && v.addBos && v.bosId !== null) out.push(v.bosId);
      let afterSpecial = true;
      for (const frag of splitter.split(text)) {
        if ('id' in frag) {
          out.push(frag.id);
          afterSpecial = true;
        } else {
          encodeSegment(prepare(frag.text, v.addSpacePrefix && afterSpecial), out);
          afterSpecial = false;
        }
      }
      if (addSpecialTokens && v.addEos && v.eosId !== null) out.push(v.eosId);
      return out;
    },
    decode(ids, skipSpecialTokens) {
      const bytes: number[] = [];
      // sentencepiece drops the dummy-prefix space of the first piece of a sequence; a sequence here is what
      // follows a BOS that is skipped. Ids that continue a text (generated tokens) keep their space.
      let stripSpace = false;
      for (const id of ids) {
        if (id >= n) continue;
        const type = v.types[id]!;
        const wasStrip = stripSpace;
        stripSpace = false;
        if (type === PieceType.byte) {
          bytes.push(byteOf[id]!);
        } else if (isSpecialType(type)) {
          if (skipSpecialTokens) {
            stripSpace = id === v.bosId && v.addSpacePrefix;
            continue;
          }
          for (const b of encoder.encode(v.tokens[id]!)) bytes.push(b);
        } else {
          let piece = v.tokens[id]!.replaceAll(SPACE, ' ');
          if (wasStrip && piece.startsWith(' ')) piece = piece.slice(1);
          for (const b of encoder.encode(piece)) bytes.push(b);
        }
      }
      return new TextDecoder('utf-8', { ignoreBOM: true }).decode(new Uint8Array(bytes));
    },
    idToToken: (id) => (Number.isInteger(id) && id >= 0 && id < n ? v.tokens[id] : undefined),
    tokenToId: (token) => idOf.get(token),
    isSpecial: (id) => Number.isInteger(id) && id >= 0 && id < n && isSpecialType(v.types[id]!),
  };
}

/** Max-heap on score; among equal scores the leftmost pair first, matching llama.cpp's comparator. */
class BigramHeap {
  private readonly items: Bigram[] = [];

  private before(a: Bigram, b: Bigram): boolean {
    return a.score > b.score || (a.score === b.score && a.left < b.left);
  }

  push(x: Bigram): void {
    const h = this.items;
    h.push(x);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  pop(): Bigram | undefined {
    const h = this.items;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < h.length && this.before(h[l]!, h[best]!)) best = l;
        if (r < h.length && this.before(h[r]!, h[best]!)) best = r;
        if (best === i) break;
        [h[i], h[best]] = [h[best]!, h[i]!];
        i = best;
      }
    }
    return top;
  }
}
