import { Tokenizer as HfLibTokenizer } from '@huggingface/tokenizers';
import { HearthError } from '../errors.js';
import { assembleTokenizer, collectEosIds, type TokenizerCore } from './assemble.js';
import { createChatRenderer, type DefaultTurns } from './chat-template.js';
import { corruptFile, isRecord } from './file-errors.js';
import { compatPreTokenizer } from './hf-compat.js';
import { bosEosPostProcessor, type TokenRef } from './post-processor.js';
import type { Tokenizer } from './types.js';
import { specialTokenNames, tokenContent, tokenizerJsonFromVocabMerges } from './vocab-merges.js';

/** The tokenizer files of a Hugging Face repository, as parsed JSON (or JSON text) and text. */
export interface HfTokenizerFiles {
  tokenizerJson?: unknown;
  vocabJson?: unknown;
  mergesTxt?: string;
  tokenizerConfig?: unknown;
  addedTokens?: unknown;
  specialTokensMap?: unknown;
  generationConfig?: unknown;
}

/**
 * A tokenizer from Hugging Face files: tokenizer.json, or the older vocab.json + merges.txt layout (turned into
 * the equivalent tokenizer.json). tokenizer_config.json supplies special tokens, add_bos_token and the chat
 * template; generation_config.json supplies extra stop ids.
 */
export function tokenizerFromHf(files: HfTokenizerFiles): Tokenizer {
  const tokenizerConfig = jsonObject(files.tokenizerConfig, 'tokenizer_config.json');
  const specialTokensMap = jsonObject(files.specialTokensMap, 'special_tokens_map.json');
  const generationConfig = jsonObject(files.generationConfig, 'generation_config.json');
  const config: Record<string, unknown> = { ...(specialTokensMap ?? {}), ...(tokenizerConfig ?? {}) };

  let tokenizerJson: Record<string, unknown>;
  let file: string;
  if (files.tokenizerJson !== undefined) {
    file = 'tokenizer.json';
    tokenizerJson = withConfigPostProcessor(jsonObject(files.tokenizerJson, file)!, config);
  } else if (files.vocabJson !== undefined && files.mergesTxt !== undefined) {
    file = 'vocab.json/merges.txt';
    const addedTokens = files.addedTokens === undefined ? undefined : jsonValue(files.addedTokens, 'added_tokens.json');
    tokenizerJson = tokenizerJsonFromVocabMerges(jsonValue(files.vocabJson, 'vocab.json'), files.mergesTxt, config, addedTokens);
  } else {
    throw new HearthError('MISSING_FILE', 'No tokenizer files: need tokenizer.json, or vocab.json together with merges.txt.', {
      hint: "Include the model repository's tokenizer files.",
    });
  }

  const core = hfCore(tokenizerJson, config, file);
  const names = specialTokenNames(config);
  const chat = createChatRenderer({
    source: config.chat_template,
    file: 'tokenizer_config.json',
    variables: templateVariables(config),
    turns: defaultTurns(core),
  });
  const eos = collectEosIds(
    core,
    [names.eos === null ? undefined : core.tokenToId(names.eos), ...generationEosIds(generationConfig)],
    chat,
  );
  const bosToken = core.bosId === null ? null : (core.idToToken(core.bosId) ?? null);
  return assembleTokenizer(core, chat, eos, bosToken);
}

/**
 * transformers' Llama and Gemma fast tokenizers rebuild tokenizer.json's post-processor from the config's
 * add_bos_token / add_eos_token (defaults: BOS yes, EOS no), so a config that turns BOS off wins over the file.
 */
function withConfigPostProcessor(tokenizerJson: Record<string, unknown>, config: Record<string, unknown>): Record<string, unknown> {
  const cls = config.tokenizer_class;
  if (typeof cls !== 'string' || !/^(Llama|CodeLlama|Gemma)Tokenizer(Fast)?$/.test(cls)) return tokenizerJson;
  const names = specialTokenNames(config);
  const model = isRecord(tokenizerJson.model) ? tokenizerJson.model : {};
  const vocab = isRecord(model.vocab) ? model.vocab : {};
  const added = Array.isArray(tokenizerJson.added_tokens) ? tokenizerJson.added_tokens : [];
  const ref = (content: string | null, enabled: boolean): TokenRef | null => {
    if (!enabled || content === null) return null;
    const fromAdded: unknown = added.find((t: unknown) => isRecord(t) && t.content === content);
    const id = isRecord(fromAdded) ? fromAdded.id : vocab[content];
    return typeof id === 'number' ? { content, id } : null;
  };
  const post_processor = bosEosPostProcessor(
    ref(names.bos, config.add_bos_token !== false),
    ref(names.eos, config.add_eos_token === true),
  );
  return { ...tokenizerJson, post_processor };
}

/** The turn format a vocabulary's own tokens name (the chat default when a file has no template). */
export function defaultTurns(core: TokenizerCore): DefaultTurns {
  const has = (t: string) => core.tokenToId(t) !== undefined;
  if (has('<|im_start|>') && has('<|im_end|>')) return 'chatml';
  if (has('<start_of_turn>') && has('<end_of_turn>')) return 'gemma';
  return null;
}

/** The special-token strings templates read (bos_token, eos_token, ...), as transformers passes them. */
export function templateVariables(config: Record<string, unknown>): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token', 'sep_token', 'cls_token', 'mask_token']) {
    const t = tokenContent(config[key]);
    if (t !== null) vars[key] = t;
  }
  return vars;
}

/**
 * Wraps @huggingface/tokenizers around a tokenizer.json. `config` is tokenizer_config.json merged over
 * special_tokens_map.json (or the equivalent built from GGUF metadata).
 */
export function hfCore(tokenizerJson: Record<string, unknown>, config: Record<string, unknown>, file: string): TokenizerCore {
  if (!isRecord(tokenizerJson.model)) throw corruptFile(file, 'has no "model" object');
  const addedTokens = tokenizerJson.added_tokens ?? [];
  if (!Array.isArray(addedTokens)) throw corruptFile(file, '"added_tokens" is not a list');
  for (const t of addedTokens) {
    if (!isRecord(t) || typeof t.content !== 'string' || !Number.isInteger(t.id)) {
      throw corruptFile(file, `added token ${JSON.stringify(t)} lacks a string content or an integer id`);
    }
  }
  const names = specialTokenNames(config);
  const libConfig: Record<string, unknown> = {
    ...config,
    additional_special_tokens: names.additional,
    // transformers no longer cleans up spaces unless asked; cleaning would break decode(encode(s)) === s
    clean_up_tokenization_spaces: config.clean_up_tokenization_spaces === true,
  };
  let lib: HfLibTokenizer;
  try {
    const pre_tokenizer = compatPreTokenizer(tokenizerJson.pre_tokenizer ?? null);
    lib = new HfLibTokenizer({ ...tokenizerJson, pre_tokenizer, added_tokens: addedTokens }, libConfig);
  } catch (e) {
    throw corruptFile(file, 'is not a tokenizer this library can load', e);
  }
  const model = lib.model;
  if (model === null) throw corruptFile(file, 'has no model');
  const vocab = model.vocab;

  const special = new Set<number>();
  for (const [id, t] of lib.get_added_tokens_decoder()) if (t.special) special.add(id);
  for (const name of [names.bos, names.eos, names.unk, names.pad, ...names.additional]) {
    const id = name === null ? undefined : lib.token_to_id(name);
    if (id !== undefined) special.add(id);
  }

  let bosId: number | null = names.bos === null ? null : (lib.token_to_id(names.bos) ?? null);
  if (bosId === null) bosId = templateBos(tokenizerJson.post_processor);

  return {
    vocabSize: vocab.length,
    bosId,
    encode(text, addSpecialTokens) {
      const ids = lib.encode(text, { add_special_tokens: addSpecialTokens }).ids;
      if (ids.some((id) => id === undefined)) {
        throw new HearthError('INVALID_ARGUMENT', 'The text has characters this vocabulary cannot encode and it has no unknown token.');
      }
      return ids;
    },
    decode(ids, skipSpecialTokens) {
      // ids past the vocabulary (padding rows of the embedding) have no text
      const known = ids.filter((id) => vocab[id] !== undefined);
      return known.length === 0 ? '' : lib.decode(known, { skip_special_tokens: skipSpecialTokens });
    },
    idToToken: (id) => lib.id_to_token(id),
    tokenToId: (token) => lib.token_to_id(token),
    isSpecial: (id) => special.has(id),
  };
}

/** The BOS a TemplateProcessing post-processor puts first (tokenizer.json files without a tokenizer_config.json). */
function templateBos(postProcessor: unknown): number | null {
  const processors =
    isRecord(postProcessor) && postProcessor.type === 'Sequence' && Array.isArray(postProcessor.processors)
      ? postProcessor.processors
      : [postProcessor];
  for (const p of processors) {
    if (!isRecord(p) || p.type !== 'TemplateProcessing' || !Array.isArray(p.single)) continue;
    const first: unknown = p.single[0];
    if (!isRecord(first) || !isRecord(first.SpecialToken) || !isRecord(p.special_tokens)) continue;
    const entry = p.special_tokens[String(first.SpecialToken.id)];
    if (isRecord(entry) && Array.isArray(entry.ids) && typeof entry.ids[0] === 'number') return entry.ids[0];
  }
  return null;
}

function generationEosIds(generationConfig: Record<string, unknown> | undefined): number[] {
  const v = generationConfig?.eos_token_id;
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  if (!list.every((x) => Number.isInteger(x))) throw corruptFile('generation_config.json', 'eos_token_id is not an id or a list of ids');
  return list as number[];
}

function jsonValue(v: unknown, file: string): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v) as unknown;
  } catch (e) {
    throw corruptFile(file, 'is not valid JSON', e);
  }
}

function jsonObject(v: unknown, file: string): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  const parsed = jsonValue(v, file);
  if (!isRecord(parsed)) throw corruptFile(file, 'is not a JSON object');
  return parsed;
}
