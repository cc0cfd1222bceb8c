/** One chat turn. `role` is free-form because templates define their own roles (e.g. 'ipython'). */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | string;
  content: string;
  /** An assistant turn's function calls (OpenAI's shape; arguments is a JSON string). */
  tool_calls?: { id: string; type: 'function'; function: { name: string; arguments: string } }[];
  /** A 'tool' turn: the call this is the result of. */
  tool_call_id?: string;
  /** A 'tool' turn: the function's name (optional, as in OpenAI). */
  name?: string;
}

export interface EncodeOptions {
  /** Add BOS/EOS etc. exactly as the model's reference tokenizer does. Default true. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop control tokens (BOS, EOS, <|im_end|>, ...) from the text. Default false, as in transformers. */
  skipSpecialTokens?: boolean;
}

export interface ChatTemplateOptions {
  /** Append the text that opens the assistant's turn. Default true: callers render prompts to generate from. */
  addGenerationPrompt?: boolean;
  /** Tool definitions, handed to the template as `tools` (only when given). */
  tools?: unknown;
}

/** Incremental detokenizer for streamed generation. */
export interface StreamDecoder {
  /** Adds one id; returns the text it completes (possibly ''), holding back incomplete UTF-8 sequences. */
  push(id: number): string;
  /** Returns whatever is still held back (an incomplete sequence decodes to U+FFFD) and resets. */
  flush(): string;
}

export interface Tokenizer {
  /** Number of ids the tokenizer knows (highest id + 1, added tokens included). */
  readonly vocabSize: number;
  readonly bosId: number | null;
  /** Every id that ends generation: the eos token, the template's end-of-turn token, generation_config's ids. */
  readonly eosIds: number[];
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: number[], opts?: DecodeOptions): string;
  idToToken(id: number): string | undefined;
  tokenToId(token: string): number | undefined;
  isSpecial(id: number): boolean;
  applyChatTemplate(messages: ChatMessage[], opts?: ChatTemplateOptions): string;
  /**
   * Renders the chat and encodes it, adding BOS only when the rendered text does not already start with it
   * (templates like Llama's write bos_token themselves; ChatML and the plain fallback do not).
   */
  encodeChat(messages: ChatMessage[], opts?: ChatTemplateOptions): number[];
  createStreamDecoder(opts?: DecodeOptions): StreamDecoder;
}
