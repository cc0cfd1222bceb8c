export type {
  ChatMessage,
  ChatTemplateOptions,
  DecodeOptions,
  EncodeOptions,
  StreamDecoder,
  Tokenizer,
} from './types.js';
export { tokenizerFromHf, type HfTokenizerFiles } from './hf.js';
export { tokenizerFromGguf, type GgufTokenizerOptions } from './gguf.js';
export {
  parseSentencePieceModel,
  tokenizerFromSentencePiece,
  type SentencePiece,
  type SentencePieceModel,
  type SentencePieceOptions,
} from './sentencepiece-model.js';
