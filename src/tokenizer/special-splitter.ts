export type Fragment = { text: string } | { id: number };

/**
 * Cuts special tokens (<s>, <|im_start|>, user-defined pieces) out of text before the subword model sees it,
 * taking the longest token that matches at the leftmost position, as transformers and llama.cpp both do.
 */
export class SpecialSplitter {
  private readonly byFirstChar = new Map<string, Array<{ text: string; id: number }>>();

  constructor(tokens: Iterable<{ text: string; id: number }>) {
    for (const t of tokens) {
      if (t.text === '') continue;
      const key = t.text[0]!;
      let list = this.byFirstChar.get(key);
      if (!list) this.byFirstChar.set(key, (list = []));
      if (!list.some((x) => x.text === t.text)) list.push(t);
    }
    for (const list of this.byFirstChar.values()) list.sort((a, b) => b.text.length - a.text.length);
  }

  split(text: string): Fragment[] {
    const out: Fragment[] = [];
    let start = 0;
    let i = 0;
    while (i < text.length) {
      const match = this.byFirstChar.get(text[i]!)?.find((t) => text.startsWith(t.text, i));
      if (!match) {
        i++;
        continue;
      }
      if (i > start) out.push({ text: text.slice(start, i) });
      out.push({ id: match.id });
      i += match.text.length;
      start = i;
    }
    if (start < text.length) out.push({ text: text.slice(start) });
    return out;
  }
}
