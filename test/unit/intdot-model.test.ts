/**
 * activations: 'int8' through a whole model: with one-token prefill chunks every matmul is a GEMV,
 * and every block-format matrix's GEMV packs its input row to int8 (q8_0 blocks, f32 d) and takes
 * dot4I8Packed. Greedy ids and logits against the reference quantizing the same inputs, on a
 * synthetic Q4_K_M-style file (q4_k, q6_k and q5_0 matrices) and a Q4_1 one.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import type { SyntheticSpec } from '../fixtures/synthetic.js';
import { engineFor, referenceFor, syntheticSource } from '../helpers/models.js';
import { compare } from '../helpers/random.js';

const spec: SyntheticSpec = { layers: 2, vocab: 384, intermediate: 320, ropeTheta: 10000, seed: 9, arch: 'llama', hidden: 256, heads: 4, kvHeads: 1, headDim: 128, tied: true };
const PROMPT = [1, 17, 250, 3, 99, 42];
const CTX = 32;

const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines) await e.unload();
});

describe("activations: 'int8' (integer dot products in the GEMVs)", () => {
  for (const type of ['Q4_K_M', 'Q4_1'] as const) {
    it(`gguf ${type}: the reference's greedy ids and logits on the same int8 inputs; packing launches added`, async () => {
      const source = syntheticSource(spec, { kind: 'gguf', type });
      const engine = await engineFor(source, CTX, { activations: 'int8', prefillChunk: 1 });
      engines.push(engine);
      const plain = await engineFor(source, CTX, { prefillChunk: 1 });
      engines.push(plain);
      expect(engine.info.features.packedDot4x8).toBe(true);
      // one packing launch per matrix input (qkv, o, gate|up, down per layer, lm_head); decode unfused
      expect(engine.info.dispatchesPerToken).toBeGreaterThan(plain.info.dispatchesPerToken + 4 * spec.layers);
      const want = (await referenceFor(source, CTX, undefined, 'int8')).greedy(PROMPT, 6);
      const got = await engine.generate({ promptIds: PROMPT, maxTokens: 6, sampling: { temperature: 0 }, stopIds: [] });
      expect(got.ids).toEqual(want.ids);
      // a value next to a rounding boundary may land one 8-bit step apart on the two sides
      expect(compare(await engine.logits(PROMPT), want.logits[0]!).maxRel).toBeLessThan(5e-3);
    });
  }
});
