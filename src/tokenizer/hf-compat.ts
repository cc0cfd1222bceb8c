import { isRecord } from './file-errors.js';

/** GPT-2's split, as the Rust ByteLevel pre-tokenizer applies it (Oniguruma, where \s is Unicode White_Space). */
const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/**
 * Rewrites pre-tokenizer steps that @huggingface/tokenizers runs differently from the Rust `tokenizers` crate
 * (the reference) into equivalent steps it runs correctly:
 * - Digits splits on Rust's char::is_numeric (Unicode N: '½', '²', '٣'), but the library uses JS \d ([0-9]);
 *   SmolLM2 tokenizes "4 ½" differently because of it.
 * - ByteLevel's built-in regex uses JS \s, which misses U+0085 and adds U+FEFF; an explicit Split goes through
 *   the library's Oniguruma translation instead. Only without add_prefix_space, which must see the whole text.
 */
export function compatPreTokenizer(config: unknown): unknown {
  if (!isRecord(config)) return config;
  switch (config.type) {
    case 'Sequence':
      return Array.isArray(config.pretokenizers)
        ? { ...config, pretokenizers: config.pretokenizers.map(compatPreTokenizer) }
        : config;
    case 'Digits':
      return {
        type: 'Split',
        pattern: { Regex: config.individual_digits === true ? '\\p{N}' : '\\p{N}+' },
        behavior: 'Isolated',
        invert: false,
      };
    case 'ByteLevel':
      if (config.use_regex === false || config.add_prefix_space === true) return config;
      return {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: GPT2_PATTERN }, behavior: 'Isolated', invert: false },
          { ...config, use_regex: false },
        ],
      };
    default:
      return config;
  }
}
