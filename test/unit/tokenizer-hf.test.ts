import { describe, expect, it } from 'vitest';
import { isHearthError } from '../../src/errors.js';
import { parseSentencePieceModel, tokenizerFromHf, type Tokenizer } from '../../src/tokenizer/index.js';
import { readBytes, readJson, readText } from './tokenizer-helpers.js';
import { LLAMA_SPM_OUT, parseOut, QWEN2_OUT, SMOLLM_OUT, TESTS_V1, TESTS_V2 } from './tokenizer-vectors.js';

const smol = (): Tokenizer =>
  tokenizerFromHf({ tokenizerJson: readJson('smollm2-135m-instruct-tokenizer/tokenizer.json') });

const qwen = (): Tokenizer =>
  tokenizerFromHf({
    vocabJson: readJson('qwen2.5-tokenizer/vocab.json'),
    mergesTxt: readText('qwen2.5-tokenizer/merges.txt'),
    tokenizerConfig: readJson('qwen2.5-tokenizer/tokenizer_config.json'),
    addedTokens: readJson('qwen2.5-tokenizer/added_tokens.json'),
    specialTokensMap: readJson('qwen2.5-tokenizer/special_tokens_map.json'),
  });

const UNICODE = 'héllo wörld 你好 🙂';
const WHITESPACE = 'a   b\n\n\tc';

function expectCorrupt(fn: () => unknown, file: string): void {
  try {
    fn();
  } catch (e) {
    expect(isHearthError(e, 'CORRUPT_FILE')).toBe(true);
    expect((e as Error).message).toContain(file);
    return;
  }
  throw new Error('expected a CORRUPT_FILE error');
}

describe('SmolLM2 tokenizer.json', () => {
  const tok = smol();

  // ids: llama.cpp models/ggml-vocab-smollm.gguf.out (transformers on SmolLM-135M's tokenizer, which SmolLM2 shares)
  it('matches the reference encodings token for token', () => {
    const want = parseOut(SMOLLM_OUT);
    expect(want.length).toBe(TESTS_V2.length);
    TESTS_V2.forEach((text, i) => {
      expect(tok.encode(text, { addSpecialTokens: false }), JSON.stringify(text)).toEqual(want[i]);
    });
  });

  it('decodes the reference ids back to the exact text', () => {
    const want = parseOut(SMOLLM_OUT);
    TESTS_V2.forEach((text, i) => expect(tok.decode(want[i]!)).toBe(text));
  });

  it('has the special ids the README lists and no BOS of its own', () => {
    expect(tok.vocabSize).toBe(49152);
    expect(tok.tokenToId('<|endoftext|>')).toBe(0);
    expect(tok.tokenToId('<|im_start|>')).toBe(1);
    expect(tok.tokenToId('<|im_end|>')).toBe(2);
    expect(tok.bosId).toBeNull();
    // tokenizer.json has no post-processor: encoding adds nothing
    expect(tok.encode('Hello world')).toEqual([19556, 905]);
    // <|endoftext|> ends documents; <|im_end|> ends the turns of the default ChatML format
    expect([...tok.eosIds].sort()).toEqual([0, 2]);
    expect(tok.isSpecial(1)).toBe(true);
    expect(tok.isSpecial(19556)).toBe(false);
  });

  it('splits digits one by one', () => {
    // '3' -> 35 per the reference vectors; every digit is its own token
    const ids = tok.encode('12345');
    expect(ids).toHaveLength(5);
    expect(ids).toEqual([...'12345'].map((d) => tok.encode(d)[0]));
    expect(tok.encode('3')).toEqual([35]);
  });

  it('keeps special tokens inside text whole', () => {
    const ids = tok.encode('<|im_start|>user\nhi<|im_end|>');
    expect(ids[0]).toBe(1);
    expect(ids[ids.length - 1]).toBe(2);
    expect(ids.slice(1, -1)).toEqual(tok.encode('user\nhi'));
    expect(tok.decode(ids)).toBe('<|im_start|>user\nhi<|im_end|>');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('user\nhi');
  });

  it('round-trips unicode and whitespace runs', () => {
    for (const s of [UNICODE, WHITESPACE, '  leading and trailing  ', '']) expect(tok.decode(tok.encode(s))).toBe(s);
  });

  it('streams an emoji split across byte-level tokens without replacement characters', () => {
    const ids = tok.encode('ok 🦙 done');
    expect(tok.encode(' 🦙')).toEqual([15107, 116, 243]); // split in three, per the reference vectors
    const stream = tok.createStreamDecoder();
    const chunks = ids.map((id) => stream.push(id));
    chunks.push(stream.flush());
    for (const c of chunks) expect(c).not.toContain('\uFFFD');
    expect(chunks.join('')).toBe('ok 🦙 done');
  });
});

describe('Qwen2.5 vocab.json + merges.txt', () => {
  const tok = qwen();

  // ids: llama.cpp models/ggml-vocab-qwen2.gguf.out (transformers on Qwen1.5-7B, the same BPE Qwen2.5 uses)
  it('matches the reference encodings token for token', () => {
    const want = parseOut(QWEN2_OUT);
    expect(want.length).toBe(TESTS_V1.length);
    TESTS_V1.forEach((text, i) => {
      expect(tok.encode(text, { addSpecialTokens: false }), JSON.stringify(text)).toEqual(want[i]);
    });
  });

  it('decodes the reference ids back to the exact text', () => {
    const want = parseOut(QWEN2_OUT);
    TESTS_V1.forEach((text, i) => expect(tok.decode(want[i]!)).toBe(text));
  });

  it('knows its added tokens, special ids and stop ids', () => {
    expect(tok.vocabSize).toBe(151665);
    expect(tok.tokenToId('<|endoftext|>')).toBe(151643);
    expect(tok.tokenToId('<|im_start|>')).toBe(151644);
    expect(tok.tokenToId('<|im_end|>')).toBe(151645);
    expect(tok.tokenToId('<tool_call>')).toBe(151657);
    expect(tok.bosId).toBeNull();
    expect(tok.isSpecial(151644)).toBe(true);
    expect(tok.isSpecial(151657)).toBe(false); // added but not special in tokenizer_config.json
    expect(tok.eosIds).toEqual([151645, 151643]);
    expect(tok.encode('Hello world')).toEqual([9707, 1879]);
  });

  it('takes extra stop ids from generation_config.json', () => {
    const t = tokenizerFromHf({
      vocabJson: readJson('qwen2.5-tokenizer/vocab.json'),
      mergesTxt: readText('qwen2.5-tokenizer/merges.txt'),
      tokenizerConfig: readText('qwen2.5-tokenizer/tokenizer_config.json'), // JSON text works too
      generationConfig: { eos_token_id: [151645, 151643, 151644] },
    });
    expect(t.eosIds).toEqual([151645, 151643, 151644]);
  });

  it('splits digits one by one', () => {
    expect(tok.encode('12345')).toEqual([16, 17, 18, 19, 20]); // '3' -> 18 per the reference vectors
  });

  it('keeps special tokens inside text whole', () => {
    const ids = tok.encode('<|im_start|>user\nhi<|im_end|>');
    expect(ids[0]).toBe(151644);
    expect(ids[ids.length - 1]).toBe(151645);
    expect(ids.slice(1, -1)).toEqual(tok.encode('user\nhi'));
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('user\nhi');
  });

  it('round-trips unicode and whitespace runs', () => {
    for (const s of [UNICODE, WHITESPACE]) expect(tok.decode(tok.encode(s))).toBe(s);
  });

  it('normalizes to NFC as Qwen2Tokenizer does', () => {
    expect(tok.encode('e\u0301')).toEqual(tok.encode('é'));
  });

  it('streams multi-byte characters split across tokens without replacement characters', () => {
    const text = '我想在apple工作🙂🦙';
    const ids = tok.encode(text);
    const stream = tok.createStreamDecoder();
    let out = '';
    for (const id of ids) {
      const c = stream.push(id);
      expect(c).not.toContain('\uFFFD');
      out += c;
    }
    expect(out + stream.flush()).toBe(text);
  });

  it('flush releases an incomplete character as U+FFFD', () => {
    const ids = tok.encode(' 🦙');
    expect(ids).toEqual([11162, 99, 247]); // per the reference vectors
    const stream = tok.createStreamDecoder();
    expect(stream.push(ids[0]!)).toBe('');
    expect(stream.flush()).toContain('\uFFFD');
  });
});

describe('malformed tokenizer files', () => {
  it('names tokenizer.json when it is not a tokenizer', () => {
    expectCorrupt(() => tokenizerFromHf({ tokenizerJson: {} }), 'tokenizer.json');
    expectCorrupt(() => tokenizerFromHf({ tokenizerJson: '{"model": ' }), 'tokenizer.json');
    expectCorrupt(() => tokenizerFromHf({ tokenizerJson: { model: { type: 'Nope', vocab: 3 } } }), 'tokenizer.json');
    expectCorrupt(() => tokenizerFromHf({ tokenizerJson: { model: { type: 'BPE', vocab: {}, merges: [] }, added_tokens: [{ id: 'x' }] } }), 'tokenizer.json');
  });

  it('names vocab.json, merges.txt and added_tokens.json', () => {
    expectCorrupt(() => tokenizerFromHf({ vocabJson: [1, 2], mergesTxt: '' }), 'vocab.json');
    expectCorrupt(() => tokenizerFromHf({ vocabJson: { a: 'zero' }, mergesTxt: '' }), 'vocab.json');
    expectCorrupt(() => tokenizerFromHf({ vocabJson: { a: 0, b: 1 }, mergesTxt: '#version: 0.2\na b c\n' }), 'merges.txt');
    expectCorrupt(() => tokenizerFromHf({ vocabJson: { a: 0 }, mergesTxt: '', addedTokens: '[' }), 'added_tokens.json');
  });

  it('names tokenizer_config.json for a broken chat template or config', () => {
    const tokenizerJson = readJson('smollm2-135m-instruct-tokenizer/tokenizer.json');
    expectCorrupt(() => tokenizerFromHf({ tokenizerJson, tokenizerConfig: { chat_template: '{% for m in messages %}' } }), 'tokenizer_config.json');
    expectCorrupt(() => tokenizerFromHf({ tokenizerJson, tokenizerConfig: 'not json' }), 'tokenizer_config.json');
    expectCorrupt(() => tokenizerFromHf({ tokenizerJson, generationConfig: { eos_token_id: 'x' } }), 'generation_config.json');
  });

  it('says which files are missing', () => {
    expect(() => tokenizerFromHf({ vocabJson: { a: 0 } })).toThrowError(/merges\.txt/);
    try {
      tokenizerFromHf({});
    } catch (e) {
      expect(isHearthError(e, 'MISSING_FILE')).toBe(true);
    }
  });

  it('rejects ids that are not non-negative integers and skips ids past the vocabulary', () => {
    const tok = smol();
    expect(() => tok.decode([1.5])).toThrowError(/not a non-negative integer/);
    expect(() => tok.decode([-1])).toThrowError(/not a non-negative integer/);
    expect(tok.decode([19556, 10 ** 6, 905])).toBe('Hello world');
    expect(tok.decode([])).toBe('');
  });
});

describe('SentencePiece-style tokenizer.json (Llama 2, TinyLlama, Mistral)', () => {
  /**
   * The tokenizer.json transformers' LlamaConverter writes for Llama 2's tokenizer.model (legacy layout): '▁'
   * prepended and spaces replaced by a normalizer, BPE with byte fallback over merges listed by the score of the
   * merged piece, and a decoder that strips the first space. Built here from the real tokenizer.model.
   */
  function llamaTokenizerJson(): Record<string, unknown> {
    const model = parseSentencePieceModel(readBytes('llama2-tokenizer/tokenizer.model'));
    const vocab: Record<string, number> = {};
    model.pieces.forEach((p, id) => (vocab[p.piece] = id));
    const merges: Array<[string, string, number]> = [];
    model.pieces.forEach((p) => {
      const local: Array<[string, string, number]> = [];
      for (let i = 1; i < p.piece.length; i++) {
        const l = p.piece.slice(0, i);
        const r = p.piece.slice(i);
        if (l in vocab && r in vocab) local.push([l, r, p.score]);
      }
      local.sort((a, b) => vocab[a[0]]! - vocab[b[0]]! || vocab[a[1]]! - vocab[b[1]]!);
      merges.push(...local);
    });
    merges.sort((a, b) => b[2] - a[2]); // stable, as Python's sorted(reverse=True) on the score
    const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    return {
      version: '1.0',
      added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
      normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
      pre_tokenizer: null,
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [],
        special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
      },
      decoder: {
        type: 'Sequence',
        decoders: [
          { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
          { type: 'ByteFallback' },
          { type: 'Fuse' },
          { type: 'Strip', content: ' ', start: 1, stop: 0 },
        ],
      },
      model: { type: 'BPE', dropout: null, unk_token: '<unk>', byte_fallback: true, fuse_unk: true, ignore_merges: false, vocab, merges: merges.map(([l, r]) => [l, r]) },
    };
  }
  const tokenizerJson = llamaTokenizerJson();
  const config = { tokenizer_class: 'LlamaTokenizer', bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' };
  const tok = tokenizerFromHf({ tokenizerJson, tokenizerConfig: config });

  // ids: llama.cpp models/ggml-vocab-llama-spm.gguf.out (transformers on meta-llama/Llama-2-7b-hf)
  it('matches the reference encodings token for token', () => {
    const want = parseOut(LLAMA_SPM_OUT);
    TESTS_V1.forEach((text, i) => {
      expect(tok.encode(text, { addSpecialTokens: false }), JSON.stringify(text)).toEqual(want[i]);
    });
  });

  it('adds BOS unless tokenizer_config.json turns it off', () => {
    expect(tok.bosId).toBe(1);
    expect(tok.encode('Hello world')).toEqual([1, 15043, 3186]);
    const noBos = tokenizerFromHf({ tokenizerJson, tokenizerConfig: { ...config, add_bos_token: false } });
    expect(noBos.encode('Hello world')).toEqual([15043, 3186]);
    const withEos = tokenizerFromHf({ tokenizerJson, tokenizerConfig: { ...config, add_eos_token: true } });
    expect(withEos.encode('Hello world')).toEqual([1, 15043, 3186, 2]);
  });

  it('decodes as transformers does (first space stripped) and streams the same text', () => {
    const ids = tok.encode('Hello world 😁 and 你好', { addSpecialTokens: false });
    expect(tok.decode(ids)).toBe('Hello world 😁 and 你好');
    for (const skip of [false, true]) {
      const s = tok.createStreamDecoder({ skipSpecialTokens: skip });
      const chunks = [1, ...ids].map((id) => s.push(id));
      chunks.push(s.flush());
      for (const c of chunks) expect(c).not.toContain('\uFFFD');
      expect(chunks.join('')).toBe(tok.decode([1, ...ids], { skipSpecialTokens: skip }));
    }
  });
});
