import { HearthError } from '../errors.js';
import { assembleTokenizer, collectEosIds, type TokenizerCore } from './assemble.js';
import { createChatRenderer } from './chat-template.js';
import { corruptFile } from './file-errors.js';
import { defaultTurns, hfCore } from './hf.js';
import { bosEosPostProcessor, type TokenRef } from './post-processor.js';
import { preTokenizerForGgufPre } from './pretokenizers.js';
import { createSpmCore, PieceType } from './spm.js';
import type { Tokenizer } from './types.js';

export interface GgufTokenizerOptions {
  /** Name of the file the metadata came from, for error messages. */
  fileName?: string;
}

/**
 * A tokenizer from a GGUF file's metadata: `llama` vocabularies (SentencePiece BPE with scores and byte
 * fallback) and `gpt2` vocabularies (byte-level BPE with merges, split as `tokenizer.ggml.pre` says).
 */
export function tokenizerFromGguf(metadata: Map<string, unknown>, opts: GgufTokenizerOptions = {}): Tokenizer {
  const file = opts.fileName ?? 'GGUF file';
  const md = new MetadataReader(metadata, file);
  const kind = md.string('tokenizer.ggml.model');
  if (kind === undefined) {
    throw new HearthError('UNSUPPORTED_FORMAT', `${file} has no embedded tokenizer (tokenizer.ggml.model is missing).`, {
      hint: 'Use a GGUF file converted with its vocabulary, or give the tokenizer files separately.',
    });
  }
  const tokens = md.strings('tokenizer.ggml.tokens');
  if (tokens === undefined || tokens.length === 0) throw corruptFile(file, 'tokenizer.ggml.tokens is missing or empty');
  const n = tokens.length;
  const types = md.numbers('tokenizer.ggml.token_type') ?? new Array<number>(n).fill(PieceType.normal);
  if (types.length !== n) throw corruptFile(file, `tokenizer.ggml.token_type has ${types.length} entries for ${n} tokens`);
  const bosId = md.tokenId('tokenizer.ggml.bos_token_id', n);
  const eosId = md.tokenId('tokenizer.ggml.eos_token_id', n);
  const unkId = md.tokenId('tokenizer.ggml.unknown_token_id', n);
  const stopIds = [eosId, md.tokenId('tokenizer.ggml.eot_token_id', n), md.tokenId('tokenizer.ggml.eom_token_id', n)];

  let core: TokenizerCore;
  if (kind === 'llama') {
    const scores = md.numbers('tokenizer.ggml.scores') ?? new Array<number>(n).fill(0);
    core = createSpmCore({
      tokens,
      scores,
      types,
      bosId,
      eosId,
      unkId,
      // llama.cpp's defaults for SentencePiece vocabularies
      addBos: md.bool('tokenizer.ggml.add_bos_token') ?? true,
      addEos: md.bool('tokenizer.ggml.add_eos_token') ?? false,
      addSpacePrefix: md.bool('tokenizer.ggml.add_space_prefix') ?? true,
      // llama.cpp honours tokenizer.ggml.remove_extra_whitespaces only for Unigram vocabularies, so ignore it here
      file,
    });
  } else if (kind === 'gpt2') {
    core = gpt2Core(md, tokens, types, bosId, eosId, file);
  } else {
    throw new HearthError('UNSUPPORTED_FORMAT', `${file} has a '${kind}' vocabulary; Hearth reads 'llama' and 'gpt2' vocabularies.`, {
      hint: 'Use a model with a SentencePiece (llama) or byte-level BPE (gpt2) tokenizer.',
    });
  }

  const token = (id: number | null): string | undefined => (id === null ? undefined : tokens[id]);
  const variables: Record<string, string> = {};
  for (const [key, id] of [
    ['bos_token', bosId],
    ['eos_token', eosId],
    ['unk_token', unkId],
    ['pad_token', md.tokenId('tokenizer.ggml.padding_token_id', n)],
  ] as const) {
    const t = token(id);
    if (t !== undefined) variables[key] = t;
  }
  const chat = createChatRenderer({
    source: chatTemplateSource(md),
    file: `${file} (tokenizer.chat_template)`,
    variables,
    turns: defaultTurns(core),
  });
  return assembleTokenizer(core, chat, collectEosIds(core, stopIds, chat), token(bosId) ?? null);
}

function gpt2Core(
  md: MetadataReader,
  tokens: string[],
  types: number[],
  bosId: number | null,
  eosId: number | null,
  file: string,
): TokenizerCore {
  const merges = md.strings('tokenizer.ggml.merges');
  if (merges === undefined) throw corruptFile(file, "tokenizer.ggml.merges is missing for a 'gpt2' vocabulary");
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  const added: Array<Record<string, unknown>> = [];
  tokens.forEach((t, id) => {
    if (!(t in vocab)) vocab[t] = id;
    const type = types[id];
    // control and unknown tokens are special; user-defined ones are matched whole in text but are plain text
    if (type === PieceType.control || type === PieceType.unknown || type === PieceType.userDefined) {
      const special = type !== PieceType.userDefined;
      added.push({ id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special });
    }
  });
  const mergePairs = merges.map((m, i) => {
    const cut = m.indexOf(' ', 1);
    if (cut <= 0 || cut === m.length - 1) throw corruptFile(file, `tokenizer.ggml.merges[${i}] is not two space-separated tokens`);
    return [m.slice(0, cut), m.slice(cut + 1)] as [string, string];
  });
  const pre = md.string('tokenizer.ggml.pre');
  // llama.cpp adds BOS by default for Llama 3 style vocabularies, and not for other byte-level ones
  const llama3 = pre === 'llama3' || pre === 'llama-bpe' || pre === 'llama-v3';
  const ref = (id: number | null, enabled: boolean): TokenRef | null => (enabled && id !== null ? { content: tokens[id]!, id } : null);
  const postProcessor = bosEosPostProcessor(
    ref(bosId, md.bool('tokenizer.ggml.add_bos_token') ?? llama3),
    ref(eosId, md.bool('tokenizer.ggml.add_eos_token') ?? false),
  );
  const tokenizerJson: Record<string, unknown> = {
    version: '1.0',
    added_tokens: added,
    // Qwen2's own tokenizer normalizes to NFC before splitting
    normalizer: pre === 'qwen2' ? { type: 'NFC' } : null,
    pre_tokenizer: preTokenizerForGgufPre(pre),
    post_processor: postProcessor,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: llama3,
      vocab,
      merges: mergePairs,
    },
  };
  const config: Record<string, unknown> = {};
  if (bosId !== null) config.bos_token = tokens[bosId];
  if (eosId !== null) config.eos_token = tokens[eosId];
  return hfCore(tokenizerJson, config, file);
}

function chatTemplateSource(md: MetadataReader): unknown {
  const main = md.string('tokenizer.chat_template');
  const names = md.strings('tokenizer.chat_templates') ?? [];
  if (names.length === 0) return main;
  const named: Record<string, string> = {};
  if (main !== undefined) named.default = main;
  for (const name of names) {
    const t = md.string(`tokenizer.chat_template.${name}`);
    if (t !== undefined) named[name] = t;
  }
  return named;
}

/** Typed access to GGUF metadata values; wrong types are a corrupt file, absent keys are undefined. */
class MetadataReader {
  constructor(
    private readonly md: Map<string, unknown>,
    private readonly file: string,
  ) {}

  private bad(key: string, what: string): HearthError {
    return corruptFile(this.file, `${key} is not ${what}`);
  }

  string(key: string): string | undefined {
    const v = this.md.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw this.bad(key, 'a string');
    return v;
  }

  bool(key: string): boolean | undefined {
    const v = this.md.get(key);
    if (v === undefined) return undefined;
    if (typeof v === 'boolean') return v;
    if (v === 0 || v === 1) return v === 1;
    throw this.bad(key, 'a boolean');
  }

  strings(key: string): string[] | undefined {
    const v = this.md.get(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw this.bad(key, 'an array of strings');
    return v as string[];
  }

  numbers(key: string): number[] | undefined {
    const v = this.md.get(key);
    if (v === undefined) return undefined;
    const list = ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number | bigint>) : v;
    if (!Array.isArray(list)) throw this.bad(key, 'an array of numbers');
    return list.map((x: unknown) => {
      if (typeof x === 'number') return x;
      if (typeof x === 'bigint') return Number(x);
      throw this.bad(key, 'an array of numbers');
    });
  }

  /** A token id, or null when absent or set to GGUF's "none" (-1 written as uint32). */
  tokenId(key: string, vocabSize: number): number | null {
    const raw = this.md.get(key);
    if (raw === undefined) return null;
    const v = typeof raw === 'bigint' ? Number(raw) : raw;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw this.bad(key, 'an integer');
    if (v < 0 || v === 0xffffffff) return null;
    if (v >= vocabSize) throw corruptFile(this.file, `${key} is ${v}, past the ${vocabSize}-token vocabulary`);
    return v;
  }
}
