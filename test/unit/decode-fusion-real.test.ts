/**
 * The fused decode on the real quantized files: SmolLM2-135M-Instruct Q4_1 (every layer's norms fed
 * by the residual GEMVs' epilogues) and Gemma 3 270M Q4_K_M (fed by the post-norm adds; q/k norms,
 * Q|K|V split by format). Greedy decode with fusion gives the ids and top log-probabilities of
 * decode without it (fuse: false: the norms, RoPE, KV append and gated product as launches), and
 * both agree with the teacher-forced prefill of the prompt and those ids (score(): the GEMMs and
 * unfused steps at every position), which shares no decode kernel with them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine, type NodeEngine } from '../../src/node.js';
import { GEMMA3, SMOLLM2, realModel } from '../helpers/real-models.js';

const STEPS = 10;

const engines: NodeEngine[] = [];
afterAll(async () => {
  for (const e of engines) await e.unload();
});

async function check(path: string, prompt: string, tol: { fusion: number; prefill: number }): Promise<void> {
  const fused = await createEngine({ model: realModel(path), contextLength: 64 });
  engines.push(fused);
  const unfused = await createEngine({ model: path, contextLength: 64, fuse: false });
  engines.push(unfused);
  expect(fused.info.dispatchesPerToken).toBeLessThan(unfused.info.dispatchesPerToken);
  const ids = fused.tokenizer.encode(prompt, { addSpecialTokens: true });
  const gen = (e: NodeEngine) => e.engine.generate({ promptIds: ids, maxTokens: STEPS, sampling: { temperature: 0, topLogprobs: 5 }, stopIds: [] });
  const a = await gen(fused);
  const b = await gen(unfused);
  expect(a.ids).toEqual(b.ids);
  const scored = await fused.engine.score([...ids, ...a.ids], ids.length, 5);
  let worstFusion = 0;
  let worstPrefill = 0;
  a.tokens.forEach((t, i) => {
    const u = b.tokens[i]!;
    const s = scored[i]!;
    // the greedy choice is the prefill's argmax at that position (a near-tie excepted)
    const gap = s.top[0]!.logprob - (s.top[1]?.logprob ?? -Infinity);
    if (gap > 1e-3) expect(s.top[0]!.id, `step ${i}: prefill's argmax`).toBe(t.id);
    for (const { id, logprob } of t.top) {
      const lu = u.top.find((x) => x.id === id)?.logprob;
      const ls = s.top.find((x) => x.id === id)?.logprob;
      if (lu !== undefined) worstFusion = Math.max(worstFusion, Math.abs(logprob - lu));
      if (ls !== undefined) worstPrefill = Math.max(worstPrefill, Math.abs(logprob - ls));
    }
  });
  console.log(`${path}: ${a.ids.length} ids, fused vs unfused decode ${worstFusion.toExponential(2)}, fused decode vs prefill ${worstPrefill.toExponential(2)} (worst top-5 log-probability difference)`);
  expect(worstFusion).toBeLessThan(tol.fusion);
  expect(worstPrefill).toBeLessThan(tol.prefill);
}

describe('fused decode on the real files', () => {
  it('SmolLM2-135M-Instruct Q4_1: the unfused decode\'s ids and log-probabilities, and the prefill\'s', async () => {
    await check(SMOLLM2, 'The capital of France is', { fusion: 1e-3, prefill: 1e-3 });
  }, 300_000);

  it('Gemma 3 270M Q4_K_M: the unfused decode\'s ids and log-probabilities, and the prefill\'s', async () => {
    await check(GEMMA3, 'Once upon a time, in a small village', { fusion: 1e-3, prefill: 1e-3 });
  }, 420_000);
});
