/**
 * Whisper on the GPU against the CPU reference: random-weight checkpoints at tiny's shape (fewer
 * encoder positions, to keep the reference fast) in both file layouts, greedy over 24 steps with
 * identical tokens and log-probabilities within 2e-3; the model.bin reader's errors.
 */
import { describe, expect, it } from 'vitest';
import { MemoryModelSource } from '../../src/hub/memory.js';
import { openWhisper, type WhisperConfig } from '../../src/formats/whisper.js';
import { readCt2Header } from '../../src/formats/ctranslate2.js';
import { MemoryByteSource } from '../../src/hub/memory.js';
import { uploadWhisperWeights } from '../../src/models/whisper-weights.js';
import { WhisperModel } from '../../src/models/whisper.js';
import { WhisperDecoderRef, whisperEncodeRef } from '../../src/reference/whisper.js';
import { isHearthError } from '../../src/errors.js';
import { testGpu } from '../helpers/gpu.js';
import { logSoftmax } from '../helpers/models.js';
import { randomF32 } from '../helpers/random.js';
import { randomWhisperWeights, tinyWhisperConfig, writeCt2Whisper, writeHfWhisper, type WhisperWeightsF32 } from '../fixtures/whisper.js';

const argmax = (a: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
};

/** The reference's greedy run (logits after the prompt and after each of 24 tokens), computed once for both layouts. */
const referenceRuns = new Map<WhisperWeightsF32, { logits: Float32Array[]; tokens: number[] }>();
const PROMPT = [50257, 50362, 440];

function referenceRun(c: WhisperConfig, w: WhisperWeightsF32, mel: Float32Array): { logits: Float32Array[]; tokens: number[] } {
  let run = referenceRuns.get(w);
  if (!run) {
    const ref = new WhisperDecoderRef({ config: c, t: w }, whisperEncodeRef({ config: c, t: w }, mel));
    const logits = [ref.step(PROMPT)];
    const tokens: number[] = [];
    for (let i = 0; i < 24; i++) {
      tokens.push(argmax(logits[i]!));
      logits.push(ref.step([tokens[i]!]));
    }
    run = { logits, tokens };
    referenceRuns.set(w, run);
  }
  return run;
}

async function expectGreedyMatches(c: WhisperConfig, w: WhisperWeightsF32, files: Record<string, Uint8Array | string>, format: string): Promise<void> {
  const ctx = await testGpu();
  const opened = await openWhisper(new MemoryModelSource({ ...files, 'tokenizer.json': '{}' }));
  expect(opened.format).toBe(format);
  expect(opened.config).toEqual(c);
  const weights = await uploadWhisperWeights(ctx, opened);
  const model = new WhisperModel(ctx, weights);
  try {
    const mel = randomF32(2 * c.nAudioCtx * c.nMels, 5, 1);
    await model.encode(mel);
    const ref = referenceRun(c, w, mel);
    expect(new Set(ref.tokens).size, 'a greedy run that moves between tokens').toBeGreaterThan(3);
    let got = await model.decode(PROMPT, 0);
    let pos = PROMPT.length;
    for (let i = 0; i < 24; i++) {
      const [lw, lg] = [logSoftmax(ref.logits[i]!), logSoftmax(got)];
      const tok = ref.tokens[i]!;
      expect(argmax(got), `step ${i}`).toBe(tok);
      // the top tokens' log-probabilities
      const top = [...lw.keys()].sort((a, b) => lw[b]! - lw[a]!).slice(0, 5);
      for (const id of top) expect(Math.abs(lg[id]! - lw[id]!), `step ${i}, token ${id}`).toBeLessThan(2e-3);
      got = await model.decode([tok], pos++);
    }
  } finally {
    model.destroy();
    weights.destroy();
  }
}

describe('Whisper (random weights at tiny shape) against the reference', () => {
  const c = tinyWhisperConfig(24);
  const w = randomWhisperWeights(c, 3);

  it('CTranslate2 model.bin (float16): 24 greedy steps, same tokens, log-probabilities within 2e-3', async () => {
    await expectGreedyMatches(c, w, { 'model.bin': writeCt2Whisper(c, w, 'F16') }, 'ctranslate2');
  });

  it('Hugging Face safetensors (F32, q/k/v apart, no K bias): the same', async () => {
    await expectGreedyMatches(c, w, writeHfWhisper(c, w, 'F32'), 'safetensors');
  });
});

describe('CTranslate2 model.bin reader', () => {
  const c: WhisperConfig = { nMels: 8, dModel: 16, ffnDim: 32, encoderLayers: 1, decoderLayers: 1, encoderHeads: 2, decoderHeads: 2, nAudioCtx: 4, nTextCtx: 8, vocabSize: 40 };
  const bin = writeCt2Whisper(c, randomWhisperWeights(c, 9));

  it('reads the variables, scalars and the projection alias', async () => {
    const h = await readCt2Header(new MemoryByteSource('model.bin', bin));
    expect(h.version).toBe(6);
    expect(h.spec).toBe('WhisperSpec');
    expect(h.variables.get('decoder/projection/weight')).toBe(h.variables.get('decoder/embeddings/weight'));
    expect(h.variables.get('encoder/conv1/weight')!.shape).toEqual([16, 8, 3]);
    const opened = await openWhisper(new MemoryModelSource({ 'model.bin': bin, 'tokenizer.json': '{}' }));
    expect(opened.config).toEqual(c);
  });

  it('refuses truncated files, unknown versions and dtypes with typed errors', async () => {
    const codes = async (bytes: Uint8Array): Promise<string> => {
      try {
        await readCt2Header(new MemoryByteSource('model.bin', bytes));
        return 'none';
      } catch (e) {
        expect(isHearthError(e)).toBe(true);
        return (e as { code: string }).code;
      }
    };
    expect(await codes(bin.slice(0, bin.length - 200))).toMatch(/TRUNCATED_FILE|CORRUPT_FILE/);
    const v9 = bin.slice();
    v9[0] = 9;
    expect(await codes(v9)).toBe('UNSUPPORTED_FORMAT');
    expect(await codes(bin.slice(0, 3))).toBe('TRUNCATED_FILE');
    // the first variable's dtype byte (after version, spec name, revision, count, name, rank, dims)
    const bad = bin.slice();
    const dv = new DataView(bad.buffer);
    let at = 4;
    at += 2 + dv.getUint16(at, true) + 4 + 4; // spec, revision, count
    at += 2 + dv.getUint16(at, true); // name
    const rank = bad[at]!;
    at += 1 + 4 * rank;
    bad[at] = 77;
    expect(await codes(bad)).toBe('CORRUPT_FILE');
  });

  it('says what is missing when a folder has no tokenizer.json or no weights', async () => {
    await expect(openWhisper(new MemoryModelSource({ 'model.bin': bin }))).rejects.toMatchObject({ code: 'MISSING_FILE' });
    await expect(openWhisper(new MemoryModelSource({ 'tokenizer.json': '{}' }))).rejects.toMatchObject({ code: 'MISSING_FILE' });
  });
});
