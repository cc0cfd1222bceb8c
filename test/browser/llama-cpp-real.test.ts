/**
 * Real GGUF files against llama.cpp itself (wllama in headless Chromium), token for token (see
 * bench/lib/parity.ts): tokenization equal; greedy continuations equal, or diverging only at a
 * near-tie of llama.cpp's top two (< 0.05 apart); next-token top-5 log-probabilities close at every
 * step. A fixed sample runs here (every stories260K prompt, three SmolLM2 prompts: chat, code,
 * unicode); `npm run bench:parity` runs the full sets and records them in bench/results/.
 *
 * On SmolLM2's Q4_1 file the log-probabilities differ by up to about 0.7 (mean about 0.1), while
 * the same weights written as F32 agree within 0.015: what separates the two is inside llama.cpp's
 * arithmetic on quantized weights (its CPU backend's quantized dot products), not Hearth's forward
 * pass, tokenizer or template. Emulating llama.cpp's 8-bit activations (`activations: 'q8'`) did
 * not narrow it (bench/results/*-parity-llama-cpp.md). So the Q4_1 file is held to a looser bound
 * (a greedy divergence accepted where llama.cpp's top two are within 0.2, the two engines' noise
 * on that file), and its F32 rendering to the strict one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveModelSource } from '../../src/hub/resolve.js';
import type { Engine } from '../../src/engine/engine.js';
import { startLlamaCpp, type LlamaCpp } from '../../bench/lib/llama-cpp.js';
import { CHAT_MODEL_PROMPTS, NEAR_TIE, STORY_PROMPTS, comparePrompt, describeParity, tokenizeBoth, type ParityPrompt, type PromptParity } from '../../bench/lib/parity.js';
import { engineFor } from '../helpers/models.js';
import { STORIES } from '../helpers/stories.js';
import { GEMMA3, SMOLLM2, realModel } from '../helpers/real-models.js';
import { writeF32Gguf } from '../fixtures/gguf-f32.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const STEPS = 32;
const TOP = 5;

/** `tie`: the widest gap between llama.cpp's top two at which a greedy divergence is accepted. */
function expectAgreement(results: PromptParity[], bound: { worst: number; mean: number; tie?: number }): void {
  for (const r of results) {
    console.log(describeParity(r));
    expect(r.tokenizationEqual, `${r.name}: Hearth ${JSON.stringify(r.hearthIds)} vs llama.cpp ${JSON.stringify(r.llamaCppIds)}`).toBe(true);
    expect(r.steps).toBeGreaterThan(0);
    for (const d of r.divergences) expect(d.gap, `${describeParity(r)}`).toBeLessThan(bound.tie ?? NEAR_TIE);
    expect(r.worstLogprobDiff, describeParity(r)).toBeLessThan(bound.worst);
    expect(r.meanLogprobDiff, describeParity(r)).toBeLessThan(bound.mean);
  }
}

/**
 * Every prompt of `tokenized` tokenized by both (cheap), then `prompts` compared in full. The
 * tokenizations are checked here; the full comparisons are returned.
 */
async function compareAll(path: string, prompts: ParityPrompt[], contextLength: number, tokenized: ParityPrompt[] = [], steps = STEPS): Promise<PromptParity[]> {
  let llama: LlamaCpp | undefined;
  let engine: Engine | undefined;
  try {
    llama = await startLlamaCpp(path, { nCtx: contextLength });
    engine = await engineFor(await resolveModelSource(path), contextLength);
    for (const p of tokenized) {
      const t = await tokenizeBoth(engine, llama, p);
      expect(t.hearthIds, `${p.name}: Hearth vs llama.cpp tokenization`).toEqual(t.llamaCppIds);
    }
    const out: PromptParity[] = [];
    for (const p of prompts) out.push(await comparePrompt(engine, llama, p, steps, TOP));
    return out;
  } finally {
    await engine?.unload();
    await llama?.close();
  }
}

describe('Hearth and llama.cpp on real GGUF files', () => {
  it('stories260K (F32): 10 prompts', async () => {
    expectAgreement(await compareAll(STORIES, STORY_PROMPTS, 128), { worst: 0.1, mean: 0.01 });
  }, 180_000);

  const sample = CHAT_MODEL_PROMPTS.filter((p) => ['capital (chat)', 'code', 'unicode'].includes(p.name));

  it('SmolLM2-135M-Instruct (Q4_1): chat, code and unicode prompts', async () => {
    expect(sample).toHaveLength(3);
    // a divergence where llama.cpp's top two are closer than the two engines' arithmetic differs (0.2)
    const results = await compareAll(realModel(SMOLLM2), sample, 256, CHAT_MODEL_PROMPTS);
    expectAgreement(results, { worst: 1, mean: 0.15, tie: 0.2 });
    // Read as stored (q4_1 kernels, exact Q4_1 values) one prompt is greedy-equal and two diverge where
    // llama.cpp's top two are 0.074 and 0.059 apart, with mean differences 0.080-0.094; widened to
    // q8_0 (a second rounding of the weights) two were equal, with means 0.105-0.111.
    expect(results.filter((r) => r.greedyEqual).length).toBeGreaterThanOrEqual(1);
    expect(results.reduce((s, r) => s + r.meanLogprobDiff, 0) / results.length).toBeLessThan(0.1);
  }, 300_000);

  it('Gemma 3 270M (Q4_K_M): tokenization on 10 prompts, a chat and a story compared over 16 tokens', async () => {
    const results = await compareAll(realModel(GEMMA3), CHAT_MODEL_PROMPTS.filter((p) => ['capital (chat)', 'plain story'].includes(p.name)), 128, CHAT_MODEL_PROMPTS, 16);
    expectAgreement(results, { worst: 1.2, mean: 0.2, tie: 0.2 });
  }, 420_000);

  it('SmolLM2-135M-Instruct as F32 (the same weights, llama.cpp computing in f32): within 0.1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-f32-'));
    try {
      const path = join(dir, 'SmolLM2-135M-Instruct.F32.gguf');
      await writeF32Gguf(realModel(SMOLLM2), path);
      expectAgreement(await compareAll(path, sample.slice(0, 2), 256), { worst: 0.1, mean: 0.01 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
