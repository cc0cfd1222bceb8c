/**
 * Real GGUF files against llama.cpp itself (wllama in headless Chromium), token for token (see
 * bench/lib/parity.ts): tokenization equal; greedy continuations equal, or diverging only at a
 * near-tie of llama.cpp's top two (< 0.05 apart); next-token top-5 log-probabilities within 0.1 at
 * every step. A fixed sample runs here (every stories260K prompt, three SmolLM2 prompts: chat,
 * code, unicode); `npm run bench:parity` runs the full sets and records them in bench/results/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveModelSource } from '../../src/hub/resolve.js';
import type { Engine } from '../../src/engine/engine.js';
import { startLlamaCpp, type LlamaCpp } from '../../bench/lib/llama-cpp.js';
import { CHAT_MODEL_PROMPTS, STORY_PROMPTS, comparePrompt, describeParity, type ParityPrompt, type PromptParity } from '../../bench/lib/parity.js';
import { engineFor } from '../helpers/models.js';
import { STORIES } from '../helpers/stories.js';
import { SMOLLM2, realModel } from '../helpers/real-models.js';

const STEPS = 32;
const TOP = 5;

function expectAgreement(results: PromptParity[], worstBound: number): void {
  for (const r of results) {
    console.log(describeParity(r));
    expect(r.tokenizationEqual, `${r.name}: Hearth ${JSON.stringify(r.hearthIds)} vs llama.cpp ${JSON.stringify(r.llamaCppIds)}`).toBe(true);
    expect(r.steps).toBe(STEPS);
    for (const d of r.divergences) expect(d.nearTie, `${describeParity(r)}`).toBe(true);
    expect(r.worstLogprobDiff, describeParity(r)).toBeLessThan(worstBound);
  }
}

async function compareAll(path: string, prompts: ParityPrompt[], contextLength: number): Promise<PromptParity[]> {
  let llama: LlamaCpp | undefined;
  let engine: Engine | undefined;
  try {
    llama = await startLlamaCpp(path, { nCtx: contextLength });
    engine = await engineFor(await resolveModelSource(path), contextLength);
    const out: PromptParity[] = [];
    for (const p of prompts) out.push(await comparePrompt(engine, llama, p, STEPS, TOP));
    return out;
  } finally {
    await engine?.unload();
    await llama?.close();
  }
}

describe('Hearth and llama.cpp on real GGUF files', () => {
  it('stories260K (F32): 10 prompts', async () => {
    expectAgreement(await compareAll(STORIES, STORY_PROMPTS, 128), 0.1);
  }, 180_000);

  it('SmolLM2-135M-Instruct (Q4_1): chat, code and unicode prompts', async () => {
    const sample = CHAT_MODEL_PROMPTS.filter((p) => ['capital (chat)', 'code', 'unicode'].includes(p.name));
    expect(sample).toHaveLength(3);
    expectAgreement(await compareAll(realModel(SMOLLM2), sample, 256), 0.1);
  }, 300_000);
});
