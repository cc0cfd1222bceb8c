import { HearthError } from '../errors.js';
import type { ChatRenderer } from './chat-template.js';
import { createWindowStreamDecoder } from './stream-decoder.js';
import type { ChatMessage, ChatTemplateOptions, DecodeOptions, EncodeOptions, Tokenizer } from './types.js';

/** What each vocabulary kind implements; chat, streaming and stop ids are shared on top of it. */
export interface TokenizerCore {
  readonly vocabSize: number;
  readonly bosId: number | null;
  encode(text: string, addSpecialTokens: boolean): number[];
  /** ids are already checked to be integers; ids outside the vocabulary decode to ''. */
  decode(ids: number[], skipSpecialTokens: boolean): string;
  idToToken(id: number): string | undefined;
  tokenToId(token: string): number | undefined;
  isSpecial(id: number): boolean;
}

/** Tokens that close a chat turn, under the names model families give them. */
const TURN_END_TOKENS = ['<|im_end|>', '<|eot_id|>', '<|eom_id|>', '<|end|>', '<end_of_turn>', '<|end_of_turn|>'];
/** Tokens that end a document; a model that emits one has nothing more to say. */
const DOCUMENT_END_TOKENS = ['<|endoftext|>', '<|end_of_text|>', '</s>', '<eos>'];

/**
 * Every id that should stop generation: the ids the files name (eos, generation_config), the end-of-turn token
 * the chat format writes after each message, and special document-end tokens. Missing any of these makes an
 * instruct model run on past its answer.
 */
export function collectEosIds(core: TokenizerCore, named: Array<number | null | undefined>, chat: ChatRenderer): number[] {
  const ids: number[] = [];
  const add = (id: number | null | undefined): void => {
    if (id !== null && id !== undefined && id >= 0 && id < core.vocabSize && !ids.includes(id)) ids.push(id);
  };
  named.forEach(add);
  for (const token of TURN_END_TOKENS) {
    const id = core.tokenToId(token);
    if (id !== undefined && core.isSpecial(id) && chat.text.includes(token)) add(id);
  }
  for (const token of DOCUMENT_END_TOKENS) {
    const id = core.tokenToId(token);
    if (id !== undefined && core.isSpecial(id)) add(id);
  }
  return ids;
}

export function assembleTokenizer(
  core: TokenizerCore,
  chat: ChatRenderer,
  eosIds: number[],
  bosToken: string | null,
): Tokenizer {
  const decode = (ids: number[], opts: DecodeOptions = {}): string => {
    checkIds(ids);
    return ids.length === 0 ? '' : core.decode(ids, opts.skipSpecialTokens ?? false);
  };
  const encode = (text: string, opts: EncodeOptions = {}): number[] => {
    if (typeof text !== 'string') throw new HearthError('INVALID_ARGUMENT', 'Text to encode must be a string.');
    return core.encode(text, opts.addSpecialTokens ?? true);
  };
  const applyChatTemplate = (messages: ChatMessage[], opts?: ChatTemplateOptions): string => chat.render(messages, opts);
  return {
    vocabSize: core.vocabSize,
    bosId: core.bosId,
    eosIds: [...eosIds],
    encode,
    decode,
    idToToken: (id) => core.idToToken(id),
    tokenToId: (token) => core.tokenToId(token),
    isSpecial: (id) => core.isSpecial(id),
    applyChatTemplate,
    encodeChat(messages, opts) {
      const text = applyChatTemplate(messages, opts);
      // templates that write bos_token themselves must not get a second one
      const hasBos = bosToken !== null && bosToken !== '' && text.startsWith(bosToken);
      return encode(text, { addSpecialTokens: !hasBos });
    },
    createStreamDecoder(opts = {}) {
      const skip = opts.skipSpecialTokens ?? false;
      const inner = createWindowStreamDecoder((ids) => (ids.length === 0 ? '' : core.decode(ids, skip)));
      return {
        push(id: number): string {
          checkIds([id]);
          return inner.push(id);
        },
        flush: () => inner.flush(),
      };
    },
  };
}

function checkIds(ids: number[]): void {
  if (!Array.isArray(ids)) throw new HearthError('INVALID_ARGUMENT', 'Token ids must be an array of integers.');
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0) {
      throw new HearthError('INVALID_ARGUMENT', `Token id ${String(id)} is not a non-negative integer.`);
    }
  }
}
