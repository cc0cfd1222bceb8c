/**
 * Hearth reads ggml's block types the way llama.cpp does: the same GGUF files (a synthetic model
 * in F32, the Q4_K_M mix, Q2_K, Q3_K, Q5_K, IQ4_XS and Q4_1, with llama.cpp's fallbacks Q5_0,
 * Q5_1, IQ4_NL and Q6_K/Q8_0 inside) run in llama.cpp itself (wllama, its wasm build, in headless
 * Chromium) and in Hearth (Dawn in Node), token for token as for the real files
 * (bench/lib/parity.ts): the same tokenization, the same greedy continuation (near-ties
 * reported), next-token log-probabilities close at every step.
 *
 * The two do not compute alike (llama.cpp rounds activations to 8 bits for quantized dot
 * products and keeps its KV cache in f16; Hearth reads Q4_1, Q5_0 and Q4_K..Q6_K as stored,
 * widens the others to q8_0, and computes in f32),
 * so the bound is loose, but a misplaced bit, scale or nibble changes the weights themselves and
 * moves log-probabilities by whole units (the test checks that too, by scoring one type's file
 * against llama.cpp's run of another). Measured here (wllama 3.8.1, wasm CPU; Hearth on
 * SwiftShader), |difference| over 6 steps x 8 top tokens: F32 worst 0.0013; the quantized files
 * worst 0.055-0.077, mean 0.015-0.023; Hearth's Q2_K file against llama.cpp's F32 run worst 3.3,
 * mean 1.2.
 *
 * The vocabulary has no byte tokens above 0x7F: llama.cpp's JSON reply breaks on their text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLlamaCpp, type LlamaCppHost } from '../../bench/lib/llama-cpp.js';
import { comparePrompt, describeParity, type PromptParity } from '../../bench/lib/parity.js';
import type { GgufMetadataEntry } from '../../src/formats/gguf-writer.js';
import { MemoryModelSource } from '../../src/hub/memory.js';
import type { Engine } from '../../src/engine/engine.js';
import { syntheticGgufMetadata, syntheticWeights, writeGgufModel, type GgufFileType, type SyntheticSpec } from '../fixtures/synthetic.js';
import { engineFor } from '../helpers/models.js';

const SPEC: SyntheticSpec = { arch: 'llama', hidden: 256, intermediate: 320, layers: 2, heads: 4, kvHeads: 2, headDim: 64, vocab: 384, tied: false, ropeTheta: 10000, seed: 21 };
const TYPES: GgufFileType[] = ['F32', 'Q4_K_M', 'Q2_K', 'Q3_K', 'Q5_K', 'IQ4_XS', 'Q4_1'];
const PROMPT = 'ĀāĂă ĄąĆć ĈĉĊ';
const STEPS = 12;
const TOP = 5;

/**
 * The vocabulary: <unk> <s> </s>, byte tokens for ASCII only, then one letter per id ('▁', then
 * Latin Extended letters from U+0100), so every token's text is valid UTF-8 (llama.cpp's JSON
 * reply breaks on the text of a lone byte above 0x7F). The space byte gives way to a letter, so
 * a space is always '▁'.
 */
const FIRST_LETTER = 3 + 128;
/** In place of the space byte, whose text would be '▁''s: a letter of its own. */
const SPACE_STANDIN = 'Ω';
const LETTERS = ['▁', ...Array.from({ length: SPEC.vocab - FIRST_LETTER - 1 }, (_, i) => String.fromCodePoint(0x100 + i))];

function metadata(): GgufMetadataEntry[] {
  const tokens = ['<unk>', '<s>', '</s>', ...Array.from({ length: 128 }, (_, b) => (b === 0x20 ? SPACE_STANDIN : `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`)), ...LETTERS];
  const types = tokens.map((t, i) => (i === 0 ? 2 : i < 3 ? 3 : i < FIRST_LETTER && t !== SPACE_STANDIN ? 6 : 1));
  const md = syntheticGgufMetadata(SPEC).filter((e) => !/^tokenizer\.ggml\.(tokens|scores|token_type)$/.test(e.key));
  md.push({ key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: tokens });
  md.push({ key: 'tokenizer.ggml.scores', type: 'array', itemType: 'f32', value: tokens.map(() => 0) });
  md.push({ key: 'tokenizer.ggml.token_type', type: 'array', itemType: 'i32', value: types });
  return md;
}

let host: LlamaCppHost;
let dir: string;
const files = new Map<GgufFileType, Uint8Array>();
const results = new Map<GgufFileType, PromptParity>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-parity-'));
  host = await openLlamaCpp();
  const w = syntheticWeights(SPEC);
  const md = metadata();
  for (const type of TYPES) {
    const bytes = writeGgufModel(SPEC, w, type, md);
    files.set(type, bytes);
    writeFileSync(join(dir, `${type}.gguf`), bytes);
  }
}, 120_000);

afterAll(async () => {
  await host?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function engineOf(type: GgufFileType): Promise<Engine> {
  return engineFor(new MemoryModelSource({ 'model.gguf': files.get(type)! }, `memory:parity-${type}`), 64);
}

/** `ours`'s file in Hearth against llama.cpp running `theirs`'s file. */
async function compare(ours: GgufFileType, theirs: GgufFileType): Promise<PromptParity> {
  const engine = await engineOf(ours);
  const llama = await host.load(join(dir, `${theirs}.gguf`), { nCtx: 64 });
  try {
    return await comparePrompt(engine, llama, { name: theirs, text: PROMPT }, STEPS, TOP);
  } finally {
    await engine.unload();
  }
}

describe('Hearth and llama.cpp on the same GGUF', () => {
  for (const type of TYPES) {
    it(`${type}: same tokens, same greedy continuation, log-probabilities within 0.1`, async () => {
      const r = await compare(type, type);
      results.set(type, r);
      console.log(describeParity(r));
      expect(r.tokenizationEqual, `Hearth ${JSON.stringify(r.hearthIds)} vs llama.cpp ${JSON.stringify(r.llamaCppIds)}`).toBe(true);
      expect(r.steps).toBe(STEPS);
      for (const d of r.divergences) expect(d.nearTie, describeParity(r)).toBe(true);
      expect(r.worstLogprobDiff, describeParity(r)).toBeLessThan(0.1);
    }, 60_000);
  }

  it('a different file scored against llama.cpp is far off (the check can tell)', async () => {
    const r = await compare('Q2_K', 'F32');
    expect(r.worstLogprobDiff).toBeGreaterThan(0.3);
  }, 60_000);
});
