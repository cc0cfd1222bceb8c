/**
 * tokenizer.json pre-tokenizer configurations for byte-level BPE vocabularies that arrive without one
 * (vocab.json + merges.txt, GGUF `gpt2` vocabularies). The patterns are the published ones of each family;
 * a different split means different ids, so each family must get its own.
 */

/** Qwen2Tokenizer's PRETOKENIZE_REGEX (transformers): single digits, letters with one leading non-letter. */
export const QWEN2_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** Llama 3's tiktoken-style pattern: as Qwen2's but digits in groups of up to three. */
export const LLAMA3_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

export type PreTokenizerConfig = Record<string, unknown>;

function byteLevel(useRegex: boolean, addPrefixSpace = false): PreTokenizerConfig {
  return { type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: false, use_regex: useRegex };
}

function splitThenBytes(pattern: string): PreTokenizerConfig {
  return {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false },
      byteLevel(false),
    ],
  };
}

/** GPT-2's own pre-tokenizer: the ByteLevel pre-tokenizer with its built-in regex. */
export function gpt2PreTokenizer(addPrefixSpace = false): PreTokenizerConfig {
  return byteLevel(true, addPrefixSpace);
}

export function qwen2PreTokenizer(): PreTokenizerConfig {
  return splitThenBytes(QWEN2_PATTERN);
}

/**
 * The pre-tokenizer for a GGUF `tokenizer.ggml.pre` name, following the groups llama.cpp uses for the same
 * names (llama-vocab.cpp). Unknown names fall back to GPT-2's split, which is what llama.cpp does for 'default'.
 */
export function preTokenizerForGgufPre(pre: string | undefined): PreTokenizerConfig {
  switch (pre) {
    case 'llama3':
    case 'llama-v3':
    case 'llama-bpe':
    case 'falcon3':
    case 'smaug-bpe':
      return splitThenBytes(LLAMA3_PATTERN);
    case 'qwen2':
    case 'deepseek-r1-qwen':
    case 'stablelm2':
    case 'megrez':
      return splitThenBytes(QWEN2_PATTERN);
    case 'smollm':
    case 'starcoder':
    case 'refact':
    case 'command-r':
    case 'codeshell':
    case 'exaone':
    case 'minerva-7b':
      // llama.cpp: "\p{N}" first, then GPT-2's pattern; SmolLM's tokenizer.json says the same with Digits
      return { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel(true)] };
    default:
      return byteLevel(true);
  }
}
