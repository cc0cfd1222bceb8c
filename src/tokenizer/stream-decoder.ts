import type { StreamDecoder } from './types.js';

const REPLACEMENT = '\uFFFD';

/**
 * Streams text out of any whole-sequence decoder.
 *
 * Decoding token by token is wrong in two ways: a character split across tokens (byte-level BPE pieces,
 * SentencePiece <0xNN> byte tokens) decodes to U+FFFD halves, and decoders treat the first token of a
 * sequence specially (SentencePiece drops its leading space). So each step decodes a short window that starts
 * one emitted span back, and emits only what the new token added to it; the shared context makes first-token
 * rules cancel out, and text ending in U+FFFD is held until the character completes. The concatenation of
 * everything pushed and flushed equals decode(all ids).
 */
export function createWindowStreamDecoder(decode: (ids: number[]) => string): StreamDecoder {
  let ids: number[] = [];
  // ids[prefix..read) was emitted last; it is decoded again as context for what follows
  let prefix = 0;
  let read = 0;

  const step = (final: boolean): string => {
    const before = decode(ids.slice(prefix, read));
    const after = decode(ids.slice(prefix));
    if (after.length <= before.length) return '';
    if (!final && after.endsWith(REPLACEMENT)) return '';
    const text = after.startsWith(before) ? after.slice(before.length) : after.slice(commonPrefixLength(before, after));
    prefix = read;
    read = ids.length;
    // drop what no window will read again, so long generations stay O(window) per step
    if (prefix > 0) {
      ids = ids.slice(prefix);
      read -= prefix;
      prefix = 0;
    }
    return text;
  };

  return {
    push(id: number): string {
      ids.push(id);
      return step(false);
    },
    flush(): string {
      const text = step(true);
      ids = [];
      prefix = 0;
      read = 0;
      return text;
    },
  };
}

function commonPrefixLength(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
