import { describe, expect, it } from 'vitest';
import { isHearthError } from '../../src/errors.js';
import { readGgufHeader } from '../../src/formats/gguf.js';
import { MemoryByteSource } from '../../src/hub/memory.js';
import { tokenizerFromGguf, tokenizerFromSentencePiece, type Tokenizer } from '../../src/tokenizer/index.js';
import { readBytes, readGgufMetadata, readJson, readText } from './tokenizer-helpers.js';
import { LLAMA_SPM_OUT, parseOut, QWEN2_OUT, SMOLLM_OUT, TESTS_V1, TESTS_V2 } from './tokenizer-vectors.js';

const storiesMetadata = (): Map<string, unknown> => readGgufMetadata(readBytes('stories260K/stories260K.gguf'));

// ../shared/models/README.md: greedy output from BOS alone, and the exact text it decodes to
const README_IDS = [
  403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419,
  292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391,
  266, 267,
];
const README_TEXT =
  ' Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to';

/**
 * llama2.c's encoder (run.c `encode`), written again here as an independent oracle: it reads llama2.c's own
 * export of the same vocabulary (tok512.bin, spaces instead of '▁') and merges by rescanning every pair for the
 * best score each round, where Hearth uses a priority queue over GGUF metadata.
 */
function llama2cEncoder(bytes: Uint8Array, vocabSize: number): (text: string) => number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dec = new TextDecoder();
  const vocab: string[] = [];
  const scores: number[] = [];
  let pos = 4; // max_token_length
  for (let i = 0; i < vocabSize; i++) {
    scores.push(view.getFloat32(pos, true));
    const len = view.getInt32(pos + 4, true);
    vocab.push(dec.decode(bytes.subarray(pos + 8, pos + 8 + len)));
    pos += 8 + len;
  }
  const lookup = new Map<string, number>();
  vocab.forEach((t, i) => lookup.set(t, lookup.get(t) ?? i));
  const enc = new TextEncoder();
  return (text) => {
    const tokens = [1];
    if (text !== '') tokens.push(lookup.get(' ')!);
    for (const ch of text) {
      const id = lookup.get(ch);
      if (id !== undefined) tokens.push(id);
      else for (const b of enc.encode(ch)) tokens.push(b + 3);
    }
    for (;;) {
      let best = -1e10;
      let bestId = -1;
      let bestIdx = -1;
      for (let i = 0; i < tokens.length - 1; i++) {
        const id = lookup.get(vocab[tokens[i]!]! + vocab[tokens[i + 1]!]!);
        if (id !== undefined && scores[id]! > best) {
          best = scores[id]!;
          bestId = id;
          bestIdx = i;
        }
      }
      if (bestIdx === -1) return tokens;
      tokens.splice(bestIdx, 2, bestId);
    }
  };
}

function expectError(fn: () => unknown, code: 'CORRUPT_FILE' | 'UNSUPPORTED_FORMAT', text: string): void {
  try {
    fn();
  } catch (e) {
    expect(isHearthError(e, code), String(e)).toBe(true);
    expect((e as Error).message).toContain(text);
    return;
  }
  throw new Error(`expected ${code}`);
}

function streamAll(tok: Tokenizer, ids: number[], skipSpecialTokens = false): string[] {
  const s = tok.createStreamDecoder({ skipSpecialTokens });
  const chunks = ids.map((id) => s.push(id));
  chunks.push(s.flush());
  return chunks;
}

describe('stories260K.gguf (llama / SentencePiece vocabulary)', () => {
  const tok = tokenizerFromGguf(storiesMetadata(), { fileName: 'stories260K.gguf' });

  it('reads the vocabulary the README describes', () => {
    expect(tok.vocabSize).toBe(512);
    expect(tok.bosId).toBe(1);
    expect(tok.eosIds).toEqual([2]);
    expect(tok.idToToken(0)).toBe('<unk>');
    expect(tok.idToToken(3)).toBe('<0x00>');
    expect(tok.idToToken(258)).toBe('<0xFF>');
    expect(tok.idToToken(403)).toBe('▁Once');
    expect(tok.tokenToId('▁upon')).toBe(407);
    expect(tok.isSpecial(1)).toBe(true);
    expect(tok.isSpecial(2)).toBe(true);
    expect(tok.isSpecial(403)).toBe(false);
  });

  it('encodes a prompt with BOS first and a leading space, as llama2.c does', () => {
    // the README's greedy story starts with these four pieces, which decode to " Once upon a time"
    expect(tok.encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
    expect(tok.encode('Once upon a time', { addSpecialTokens: false })).toEqual([403, 407, 261, 378]);
    expect(tok.encode('')).toEqual([1]);
    expect(tok.encode('', { addSpecialTokens: false })).toEqual([]);
  });

  it("matches llama2.c's encoder on tok512.bin token for token", () => {
    const ref = llama2cEncoder(readBytes('stories260K/tok512.bin'), 512);
    const texts = [
      README_TEXT.trim(),
      'Lily and Ben went to the park. "Look!" said Ben. They saw a dog, a cat and 3 birds.',
      'héllo wörld 你好 🙂',
      'a   b\n\n\tc',
      '12345 and 0.5',
      ...TESTS_V1,
    ];
    for (const t of texts) expect(tok.encode(t), JSON.stringify(t)).toEqual(ref(t));
  });

  it("decodes the README's 48 greedy ids to exactly its text", () => {
    expect(tok.decode(README_IDS)).toBe(README_TEXT);
    expect(tok.decode(README_IDS, { skipSpecialTokens: true })).toBe(README_TEXT);
  });

  it('drops the dummy-prefix space after a skipped BOS, as sentencepiece does, and keeps it otherwise', () => {
    expect(tok.decode([1, ...README_IDS], { skipSpecialTokens: true })).toBe(README_TEXT.slice(1));
    expect(tok.decode([1, ...README_IDS])).toBe('<s>' + README_TEXT);
    for (const s of ['Once upon a time', ' two leading', 'héllo wörld 你好 🙂', 'a   b\n\n\tc', '12345']) {
      expect(tok.decode(tok.encode(s), { skipSpecialTokens: true })).toBe(s);
    }
  });

  it('streams the README ids to the same text, with and without a BOS in front', () => {
    expect(streamAll(tok, README_IDS).join('')).toBe(README_TEXT);
    expect(streamAll(tok, [1, ...README_IDS], true).join('')).toBe(README_TEXT.slice(1));
  });

  it('falls back to byte tokens and streams them without replacement characters', () => {
    const ids = tok.encode('a 🙂 b', { addSpecialTokens: false });
    const emoji = [0xf0, 0x9f, 0x99, 0x82].map((b) => b + 3); // <0xF0><0x9F><0x99><0x82>
    expect(ids.join(',')).toContain(emoji.join(','));
    const chunks = streamAll(tok, ids);
    for (const c of chunks) expect(c).not.toContain('\uFFFD');
    expect(chunks.join('')).toBe(' a 🙂 b');
    expect(tok.decode(tok.encode('你好'), { skipSpecialTokens: true })).toBe('你好');
  });

  it('builds the same tokenizer from the metadata src/formats/gguf.ts reads', async () => {
    const header = await readGgufHeader(new MemoryByteSource('stories260K.gguf', readBytes('stories260K/stories260K.gguf')));
    const viaFormats = tokenizerFromGguf(header.metadata);
    for (const s of ['Once upon a time', 'héllo wörld 你好 🙂', 'a   b\n\n\tc']) expect(viaFormats.encode(s)).toEqual(tok.encode(s));
    expect(viaFormats.decode(README_IDS)).toBe(README_TEXT);
  });

  it('maps a text listed twice to its last id, as llama.cpp does (Gemma 3 lists "#" twice)', () => {
    const md = storiesMetadata();
    const tokens = [...(md.get('tokenizer.ggml.tokens') as string[])];
    const scores = [...(md.get('tokenizer.ggml.scores') as number[])];
    const target = tok.encode('Once', { addSpecialTokens: false });
    expect(target).toHaveLength(1);
    // a second copy of that token's text at a new id, scored like the first
    tokens.push(tokens[target[0]!]!);
    scores.push(scores[target[0]!]!);
    md.set('tokenizer.ggml.tokens', tokens);
    md.set('tokenizer.ggml.scores', scores);
    md.set('tokenizer.ggml.token_type', [...(md.get('tokenizer.ggml.token_type') as number[]), 1]);
    const dup = tokenizerFromGguf(md);
    expect(dup.encode('Once', { addSpecialTokens: false })).toEqual([tokens.length - 1]);
    expect(dup.tokenToId(tokens[target[0]!]!)).toBe(tokens.length - 1);
  });

  it('keeps special tokens in text whole and restarts the space prefix after them, as llama.cpp does', () => {
    const hi = tok.encode('hi', { addSpecialTokens: false });
    expect(tok.encode('hi</s>')).toEqual([1, ...hi, 2]);
    expect(tok.encode('</s>hi', { addSpecialTokens: false })).toEqual([2, ...hi]);
  });
});

describe('Llama 2 tokenizer.model (SentencePiece protobuf)', () => {
  const tok = tokenizerFromSentencePiece(readBytes('llama2-tokenizer/tokenizer.model'));

  it('has the Llama 2 vocabulary', () => {
    expect(tok.vocabSize).toBe(32000);
    expect(tok.bosId).toBe(1);
    expect(tok.eosIds).toEqual([2]);
    expect(tok.encode('Hello world')).toEqual([1, 15043, 3186]);
  });

  // ids: llama.cpp models/ggml-vocab-llama-spm.gguf.out (transformers on meta-llama/Llama-2-7b-hf)
  it('matches the reference encodings token for token', () => {
    const want = parseOut(LLAMA_SPM_OUT);
    expect(want.length).toBe(TESTS_V1.length);
    TESTS_V1.forEach((text, i) => {
      expect(tok.encode(text, { addSpecialTokens: false }), JSON.stringify(text)).toEqual(want[i]);
    });
  });

  // ids: karpathy/llama2.c test.c, test_prompt_encodings (from Meta's Llama 2 example prompts)
  it("matches llama2.c's test prompts", () => {
    const cases: Array<[string, number[]]> = [
      ['', [1]],
      ['I believe the meaning of life is', [1, 306, 4658, 278, 6593, 310, 2834, 338]],
      ['Simply put, the theory of relativity states that ', [1, 3439, 17632, 1925, 29892, 278, 6368, 310, 14215, 537, 5922, 393, 29871]],
      [
        'A brief message congratulating the team on the launch:\n\n        Hi everyone,\n\n        I just ',
        [1, 319, 11473, 2643, 378, 629, 271, 18099, 278, 3815, 373, 278, 6826, 29901, 13, 13, 4706, 6324, 14332, 29892, 13, 13, 4706, 306, 925, 29871],
      ],
      [
        'Translate English to French:\n\n        sea otter => loutre de mer\n        peppermint => menthe poivrée\n        plush girafe => girafe peluche\n        cheese =>',
        [
          1, 4103, 9632, 4223, 304, 5176, 29901, 13, 13, 4706, 7205, 4932, 357, 1149, 301, 449, 276, 316, 2778, 13, 4706, 1236,
          407, 837, 524, 1149, 6042, 354, 772, 440, 29878, 1318, 13, 4706, 715, 1878, 330, 3055, 1725, 1149, 330, 3055, 1725,
          4639, 28754, 13, 4706, 923, 968, 1149,
        ],
      ],
    ];
    for (const [text, ids] of cases) {
      expect(tok.encode(text), JSON.stringify(text)).toEqual(ids);
      expect(tok.decode(ids, { skipSpecialTokens: true })).toBe(text);
    }
  });

  it('decodes the reference ids back to the text', () => {
    const want = parseOut(LLAMA_SPM_OUT);
    // the reference encodings have no BOS, so the dummy-prefix space stays; text that began with a space keeps both
    TESTS_V1.forEach((text, i) => {
      if (text !== '') expect(tok.decode(want[i]!)).toBe(' ' + text);
    });
  });

  it('refuses a truncated or garbled model file', () => {
    const bytes = readBytes('llama2-tokenizer/tokenizer.model');
    expectError(() => tokenizerFromSentencePiece(bytes.subarray(0, 1000)), 'CORRUPT_FILE', 'tokenizer.model');
    expectError(() => tokenizerFromSentencePiece(new Uint8Array([0xff, 0xff, 0xff])), 'CORRUPT_FILE', 'tokenizer.model');
  });
});

describe('gpt2 (byte-level BPE) GGUF vocabularies', () => {
  /** GGUF metadata laid out as llama.cpp's convert_hf_to_gguf.py writes it: tokens by id, merges as "a b". */
  function ggufFromTokenizerJson(tj: { model: { vocab: Record<string, number>; merges: string[] }; added_tokens: Array<{ id: number; content: string; special: boolean }> }, pre: string): Map<string, unknown> {
    const tokens: string[] = [];
    for (const [t, id] of Object.entries(tj.model.vocab)) tokens[id] = t;
    const types = tokens.map(() => 1);
    for (const a of tj.added_tokens) {
      tokens[a.id] = a.content;
      types[a.id] = a.special ? 3 : 4;
    }
    return new Map<string, unknown>([
      ['tokenizer.ggml.model', 'gpt2'],
      ['tokenizer.ggml.pre', pre],
      ['tokenizer.ggml.tokens', tokens],
      ['tokenizer.ggml.token_type', types],
      ['tokenizer.ggml.merges', tj.model.merges],
    ]);
  }

  it('SmolLM2 (pre "smollm") matches the reference encodings', () => {
    const tj = readJson('smollm2-135m-instruct-tokenizer/tokenizer.json') as Parameters<typeof ggufFromTokenizerJson>[0];
    const md = ggufFromTokenizerJson(tj, 'smollm');
    md.set('tokenizer.ggml.bos_token_id', 1);
    md.set('tokenizer.ggml.eos_token_id', 2);
    md.set('tokenizer.ggml.add_bos_token', false);
    const tok = tokenizerFromGguf(md);
    const want = parseOut(SMOLLM_OUT);
    TESTS_V2.forEach((text, i) => expect(tok.encode(text), JSON.stringify(text)).toEqual(want[i]));
    expect(tok.eosIds).toEqual([2, 0]);
    expect(tok.decode(tok.encode('<|im_start|>user\nhi 🦙<|im_end|>'))).toBe('<|im_start|>user\nhi 🦙<|im_end|>');
  });

  it('Qwen2.5 (pre "qwen2") matches the reference encodings, and adds BOS when asked', () => {
    const vocab = readJson('qwen2.5-tokenizer/vocab.json') as Record<string, number>;
    const merges = readText('qwen2.5-tokenizer/merges.txt').split('\n').filter((l) => l !== '' && !l.startsWith('#version'));
    const decoder = (readJson('qwen2.5-tokenizer/tokenizer_config.json') as { added_tokens_decoder: Record<string, { content: string; special: boolean }> }).added_tokens_decoder;
    const added = Object.entries(decoder).map(([id, t]) => ({ id: Number(id), content: t.content, special: t.special }));
    const md = ggufFromTokenizerJson({ model: { vocab, merges }, added_tokens: added }, 'qwen2');
    md.set('tokenizer.ggml.eos_token_id', 151645);
    md.set('tokenizer.ggml.padding_token_id', 151643);
    md.set('tokenizer.ggml.bos_token_id', 151643);
    md.set('tokenizer.ggml.add_bos_token', false);
    const tok = tokenizerFromGguf(md);
    const want = parseOut(QWEN2_OUT);
    TESTS_V1.forEach((text, i) => expect(tok.encode(text), JSON.stringify(text)).toEqual(want[i]));
    expect(tok.tokenToId('<tool_call>')).toBe(151657);
    expect(tok.isSpecial(151657)).toBe(false);
    expect(tok.encode('<tool_call>')).toEqual([151657]);

    md.set('tokenizer.ggml.add_bos_token', true);
    expect(tokenizerFromGguf(md).encode('Hello world')).toEqual([151643, 9707, 1879]);
  });
});

describe('malformed GGUF tokenizer metadata', () => {
  const base = storiesMetadata();
  const withKey = (key: string, value: unknown): Map<string, unknown> => new Map(base).set(key, value);
  const without = (key: string): Map<string, unknown> => {
    const m = new Map(base);
    m.delete(key);
    return m;
  };

  it('names the file and the key', () => {
    const f = { fileName: 'model.gguf' };
    expectError(() => tokenizerFromGguf(without('tokenizer.ggml.tokens'), f), 'CORRUPT_FILE', 'model.gguf');
    expectError(() => tokenizerFromGguf(withKey('tokenizer.ggml.tokens', 'abc'), f), 'CORRUPT_FILE', 'tokenizer.ggml.tokens');
    expectError(() => tokenizerFromGguf(withKey('tokenizer.ggml.scores', [1, 2, 3]), f), 'CORRUPT_FILE', 'model.gguf');
    expectError(() => tokenizerFromGguf(withKey('tokenizer.ggml.token_type', [1]), f), 'CORRUPT_FILE', 'token_type');
    expectError(() => tokenizerFromGguf(withKey('tokenizer.ggml.bos_token_id', 100000), f), 'CORRUPT_FILE', 'bos_token_id');
    const tokens = [...(base.get('tokenizer.ggml.tokens') as string[])];
    tokens[10] = '<0xZZ>';
    expectError(() => tokenizerFromGguf(withKey('tokenizer.ggml.tokens', tokens), f), 'CORRUPT_FILE', 'byte token 10');
    expectError(() => tokenizerFromGguf(withKey('tokenizer.chat_template', '{% if %}'), f), 'CORRUPT_FILE', 'model.gguf');
  });

  it('refuses vocabulary kinds it does not implement, and GGUFs without a tokenizer', () => {
    expectError(() => tokenizerFromGguf(withKey('tokenizer.ggml.model', 't5')), 'UNSUPPORTED_FORMAT', "'t5'");
    expectError(() => tokenizerFromGguf(without('tokenizer.ggml.model')), 'UNSUPPORTED_FORMAT', 'tokenizer.ggml.model');
    expectError(() => tokenizerFromGguf(withKey('tokenizer.ggml.model', 'gpt2')), 'CORRUPT_FILE', 'tokenizer.ggml.merges');
  });
});
