import { corruptFile, isRecord } from './file-errors.js';
import { bosEosPostProcessor, type TokenRef } from './post-processor.js';
import { gpt2PreTokenizer, qwen2PreTokenizer } from './pretokenizers.js';

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** The special-token strings a tokenizer_config.json / special_tokens_map.json names. */
export interface SpecialTokenNames {
  bos: string | null;
  eos: string | null;
  unk: string | null;
  pad: string | null;
  additional: string[];
}

/** `"<s>"`, `{content: "<s>", ...}` or null, as the config files write special tokens. */
export function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (isRecord(v) && typeof v.content === 'string') return v.content;
  return null;
}

export function specialTokenNames(config: Record<string, unknown>): SpecialTokenNames {
  const additional = Array.isArray(config.additional_special_tokens)
    ? config.additional_special_tokens.map(tokenContent).filter((t): t is string => t !== null)
    : [];
  return {
    bos: tokenContent(config.bos_token),
    eos: tokenContent(config.eos_token),
    unk: tokenContent(config.unk_token),
    pad: tokenContent(config.pad_token),
    additional,
  };
}

/**
 * The tokenizer.json that transformers' fast-tokenizer conversion makes of the older byte-level BPE layout
 * (vocab.json + merges.txt, with added tokens in tokenizer_config.json's added_tokens_decoder and
 * added_tokens.json): Qwen2Tokenizer gets NFC and its own split pattern, anything else GPT-2's.
 */
export function tokenizerJsonFromVocabMerges(
  vocabJson: unknown,
  mergesTxt: string,
  config: Record<string, unknown>,
  addedTokensJson: unknown,
): Record<string, unknown> {
  const vocab = parseVocab(vocabJson);
  const merges = parseMerges(mergesTxt);
  const names = specialTokenNames(config);
  const added = collectAddedTokens(config, addedTokensJson, vocab, names);
  const isQwen2 = typeof config.tokenizer_class === 'string' && config.tokenizer_class.startsWith('Qwen2');
  const addPrefixSpace = config.add_prefix_space === true;

  const idOf = (t: string | null): number | undefined =>
    t === null ? undefined : (added.find((a) => a.content === t)?.id ?? vocab[t]);
  const ref = (t: string | null, enabled: boolean): TokenRef | null => {
    const id = idOf(t);
    return enabled && t !== null && id !== undefined ? { content: t, id } : null;
  };
  const postProcessor = bosEosPostProcessor(ref(names.bos, config.add_bos_token === true), ref(names.eos, config.add_eos_token === true));

  return {
    version: '1.0',
    added_tokens: added,
    normalizer: isQwen2 ? { type: 'NFC' } : null,
    pre_tokenizer: isQwen2 ? qwen2PreTokenizer() : gpt2PreTokenizer(addPrefixSpace),
    post_processor: postProcessor,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: names.unk !== null && vocab[names.unk] !== undefined ? names.unk : null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

function parseVocab(v: unknown): Record<string, number> {
  if (!isRecord(v)) throw corruptFile('vocab.json', 'is not a JSON object of token -> id');
  const out: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const [token, id] of Object.entries(v)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw corruptFile('vocab.json', `token ${JSON.stringify(token)} has id ${JSON.stringify(id)}, not a non-negative integer`);
    }
    out[token] = id;
  }
  return out;
}

function parseMerges(text: string): [string, string][] {
  if (typeof text !== 'string') throw corruptFile('merges.txt', 'is not text');
  const out: [string, string][] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '' || (i === 0 && line.startsWith('#version'))) return;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw corruptFile('merges.txt', `line ${i + 1} is not two space-separated tokens`);
    }
    out.push([parts[0]!, parts[1]!]);
  });
  return out;
}

function collectAddedTokens(
  config: Record<string, unknown>,
  addedTokensJson: unknown,
  vocab: Record<string, number>,
  names: SpecialTokenNames,
): AddedTokenJson[] {
  const byId = new Map<number, AddedTokenJson>();
  const specialNames = new Set(
    [names.bos, names.eos, names.unk, names.pad, ...names.additional].filter((t): t is string => t !== null),
  );
  const decoder = config.added_tokens_decoder;
  if (decoder !== undefined) {
    if (!isRecord(decoder)) throw corruptFile('tokenizer_config.json', 'added_tokens_decoder is not an object');
    for (const [key, entry] of Object.entries(decoder)) {
      const id = Number(key);
      const content = tokenContent(entry);
      if (!Number.isInteger(id) || id < 0 || content === null || !isRecord(entry)) {
        throw corruptFile('tokenizer_config.json', `added_tokens_decoder entry ${JSON.stringify(key)} is malformed`);
      }
      byId.set(id, {
        id,
        content,
        single_word: entry.single_word === true,
        lstrip: entry.lstrip === true,
        rstrip: entry.rstrip === true,
        normalized: entry.normalized === true,
        special: entry.special === true,
      });
    }
  }
  if (addedTokensJson !== undefined) {
    if (!isRecord(addedTokensJson)) throw corruptFile('added_tokens.json', 'is not a JSON object of token -> id');
    for (const [content, id] of Object.entries(addedTokensJson)) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
        throw corruptFile('added_tokens.json', `token ${JSON.stringify(content)} has a bad id`);
      }
      if (!byId.has(id)) byId.set(id, plainAdded(id, content, specialNames.has(content)));
    }
  }
  // special tokens that live in vocab.json still must never be split (transformers' no-split tokens)
  for (const name of specialNames) {
    const id = vocab[name];
    if (id !== undefined && !byId.has(id) && ![...byId.values()].some((t) => t.content === name)) {
      byId.set(id, plainAdded(id, name, true));
    }
  }
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

function plainAdded(id: number, content: string, special: boolean): AddedTokenJson {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: !special, special };
}
