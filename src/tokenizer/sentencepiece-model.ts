import { HearthError } from '../errors.js';
import { assembleTokenizer, collectEosIds } from './assemble.js';
import { createChatRenderer } from './chat-template.js';
import { corruptFile } from './file-errors.js';
import { defaultTurns, templateVariables } from './hf.js';
import { createSpmCore, PieceType } from './spm.js';
import type { Tokenizer } from './types.js';

export interface SentencePieceOptions {
  /** tokenizer_config.json, for add_bos_token / add_eos_token and the chat template. */
  tokenizerConfig?: Record<string, unknown>;
  /** generation_config.json, for extra stop ids. */
  generationConfig?: Record<string, unknown>;
  fileName?: string;
}

/**
 * A tokenizer from a SentencePiece `tokenizer.model` (a ModelProto protobuf), for BPE models such as Llama 2's.
 * Unigram models are refused: they need Viterbi segmentation, which Hearth does not implement.
 */
export function tokenizerFromSentencePiece(bytes: Uint8Array, opts: SentencePieceOptions = {}): Tokenizer {
  const file = opts.fileName ?? 'tokenizer.model';
  const model = parseSentencePieceModel(bytes, file);
  if (model.modelType !== MODEL_TYPE_BPE) {
    throw new HearthError('UNSUPPORTED_FORMAT', `${file} is a SentencePiece model of type ${model.modelType}; only BPE (2) is supported.`, {
      hint: "Use the model's tokenizer.json instead.",
    });
  }
  const config = opts.tokenizerConfig ?? {};
  const n = model.pieces.length;
  const inRange = (id: number): number | null => (id >= 0 && id < n ? id : null);
  const bosId = inRange(model.bosId);
  const eosId = inRange(model.eosId);
  const core = createSpmCore({
    tokens: model.pieces.map((p) => p.piece),
    scores: model.pieces.map((p) => p.score),
    types: model.pieces.map((p) => p.type),
    bosId,
    eosId,
    unkId: inRange(model.unkId),
    addBos: config.add_bos_token !== false,
    addEos: config.add_eos_token === true,
    addSpacePrefix: model.addDummyPrefix,
    removeExtraWhitespaces: model.removeExtraWhitespaces,
    // the precompiled rules of nmt_nfkc and friends are NFKC plus a few extras; NFKC is the close approximation
    normalize: model.normalizerName === 'identity' || model.normalizerName === '' ? undefined : (s) => s.normalize('NFKC'),
    file,
  });
  const vars: Record<string, string> = {
    ...(bosId !== null ? { bos_token: model.pieces[bosId]!.piece } : {}),
    ...(eosId !== null ? { eos_token: model.pieces[eosId]!.piece } : {}),
    ...templateVariables(config),
  };
  const chat = createChatRenderer({
    source: config.chat_template,
    file: 'tokenizer_config.json',
    variables: vars,
    turns: defaultTurns(core),
  });
  const genEos = opts.generationConfig?.eos_token_id;
  const extra = (Array.isArray(genEos) ? genEos : [genEos]).filter((x): x is number => Number.isInteger(x));
  return assembleTokenizer(core, chat, collectEosIds(core, [eosId, ...extra], chat), vars.bos_token ?? null);
}

const MODEL_TYPE_BPE = 2;

export interface SentencePiece {
  piece: string;
  score: number;
  /** 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte */
  type: number;
}

export interface SentencePieceModel {
  pieces: SentencePiece[];
  modelType: number;
  unkId: number;
  bosId: number;
  eosId: number;
  normalizerName: string;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
}

/** The few ModelProto fields a BPE tokenizer needs (sentencepiece_model.proto field numbers). */
export function parseSentencePieceModel(bytes: Uint8Array, file = 'tokenizer.model'): SentencePieceModel {
  if (!(bytes instanceof Uint8Array)) throw new HearthError('INVALID_ARGUMENT', `${file} must be given as a Uint8Array.`);
  const model: SentencePieceModel = {
    pieces: [],
    modelType: 1, // proto default: UNIGRAM
    unkId: 0,
    bosId: 1,
    eosId: 2,
    normalizerName: '',
    addDummyPrefix: true,
    removeExtraWhitespaces: true,
  };
  try {
    for (const f of fields(bytes, 0, bytes.length)) {
      if (f.no === 1 && f.bytes) {
        const p: SentencePiece = { piece: '', score: 0, type: PieceType.normal };
        for (const g of fields(bytes, f.bytes[0], f.bytes[1])) {
          if (g.no === 1 && g.bytes) p.piece = utf8(bytes, g.bytes);
          else if (g.no === 2 && g.fixed32 !== undefined) p.score = g.fixed32;
          else if (g.no === 3 && g.varint !== undefined) p.type = Number(g.varint);
        }
        model.pieces.push(p);
      } else if (f.no === 2 && f.bytes) {
        for (const g of fields(bytes, f.bytes[0], f.bytes[1])) {
          if (g.varint === undefined) continue;
          if (g.no === 3) model.modelType = Number(g.varint);
          else if (g.no === 40) model.unkId = int32(g.varint);
          else if (g.no === 41) model.bosId = int32(g.varint);
          else if (g.no === 42) model.eosId = int32(g.varint);
        }
      } else if (f.no === 3 && f.bytes) {
        for (const g of fields(bytes, f.bytes[0], f.bytes[1])) {
          if (g.no === 1 && g.bytes) model.normalizerName = utf8(bytes, g.bytes);
          else if (g.no === 3 && g.varint !== undefined) model.addDummyPrefix = g.varint !== 0n;
          else if (g.no === 4 && g.varint !== undefined) model.removeExtraWhitespaces = g.varint !== 0n;
        }
      }
    }
  } catch (e) {
    throw corruptFile(file, 'is not a SentencePiece model', e);
  }
  if (model.pieces.length === 0) throw corruptFile(file, 'has no pieces');
  return model;
}

interface Field {
  no: number;
  varint?: bigint;
  fixed32?: number;
  bytes?: [number, number];
}

function* fields(buf: Uint8Array, start: number, end: number): Generator<Field> {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = start;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= end) throw new Error('truncated varint');
      const b = buf[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new Error('varint too long');
    }
  };
  while (pos < end) {
    const key = varint();
    const no = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) yield { no, varint: varint() };
    else if (wire === 1) {
      if (pos + 8 > end) throw new Error('truncated field');
      pos += 8;
      yield { no };
    } else if (wire === 2) {
      const len = Number(varint());
      if (pos + len > end) throw new Error('truncated field');
      yield { no, bytes: [pos, pos + len] };
      pos += len;
    } else if (wire === 5) {
      if (pos + 4 > end) throw new Error('truncated field');
      yield { no, fixed32: view.getFloat32(pos, true) };
      pos += 4;
    } else {
      throw new Error(`unknown wire type ${wire}`);
    }
  }
}

function utf8(buf: Uint8Array, [a, b]: [number, number]): string {
  return new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(a, b));
}

/** int32 fields carry negatives as 64-bit two's complement varints. */
function int32(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}
