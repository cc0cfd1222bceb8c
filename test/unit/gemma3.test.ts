/**
 * Gemma 3 (text) against the CPU reference on seeded random-weight models, as Hugging Face
 * safetensors (F32, BF16: norms stored as w for 1 + w) and GGUF (F16, Q8_0, Q4_0: norms stored as
 * 1 + w, as llama.cpp's converter writes them): embeddings scaled by sqrt(hidden), q/k norms,
 * sandwich norms, GELU(tanh), local layers with a window shorter than the prompt and their own
 * RoPE base, a global layer. Greedy ids over a 40-token prompt and 24 cached steps (crossing the
 * window) are identical; top-5 log-probabilities agree within 2e-3.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { SyntheticSpec } from '../fixtures/synthetic.js';
import { syntheticConfig } from '../fixtures/synthetic.js';
import { engineFor, expectGreedyMatchesReference, syntheticSource } from '../helpers/models.js';
import { ARCHITECTURE_FORMATS, formatName } from '../helpers/models.js';
import type { Engine } from '../../src/engine/engine.js';
import { rng } from '../helpers/random.js';

const SPEC: SyntheticSpec = { arch: 'gemma3', hidden: 128, intermediate: 256, layers: 3, heads: 4, kvHeads: 1, headDim: 64, vocab: 384, tied: true, ropeTheta: 1e6, slidingWindow: 7, slidingLayers: [true, true, false], seed: 31 };
const r = rng(5);
const PROMPT = [2, ...Array.from({ length: 39 }, () => 3 + Math.floor(r() * 380))];
const STEPS = 24;
const CTX = 96;

const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines) await e.unload();
});

describe('Gemma 3 on the GPU matches the reference forward', () => {
  it('reads the config as Gemma 3: sqrt(hidden) embeddings, GELU, post-norms, local layers', () => {
    const c = syntheticConfig(SPEC);
    expect(c).toMatchObject({ architecture: 'gemma3', hiddenAct: 'gelu_tanh', postNorms: true, qkNorm: true, normWeightOffset: 1, slidingWindow: 7, slidingLayers: [true, true, false], ropeLocalTheta: 10000, ropeStyle: 'half' });
    expect(c.embedScale).toBeCloseTo(Math.sqrt(128), 6);
    expect(c.attentionScale).toBeCloseTo(1 / 8, 9);
  });

  for (const f of ARCHITECTURE_FORMATS) {
    it(`${formatName(f)}: same greedy ids over a 40-token prompt and 24 steps, top-5 within 2e-3`, async () => {
      const source = syntheticSource(SPEC, f);
      const engine = await engineFor(source, CTX, { prefillChunk: 16 });
      engines.push(engine);
      await expectGreedyMatchesReference(engine, source, CTX, PROMPT, STEPS);
      if (f.kind === 'gguf') expect(engine.config.normWeightOffset).toBe(0);
      else expect(engine.config.normWeightOffset).toBe(1);
    }, 120_000);
  }

  it('the window matters: a model whose local layers see everything gives other logits', async () => {
    const source = syntheticSource(SPEC, { kind: 'hf', dtype: 'F32' });
    const wide = syntheticSource({ ...SPEC, slidingWindow: 4096 }, { kind: 'hf', dtype: 'F32' });
    const [a, b] = [await engineFor(source, CTX), await engineFor(wide, CTX)];
    engines.push(a, b);
    const la = await a.logits(PROMPT);
    const lb = await b.logits(PROMPT);
    let diff = 0;
    for (let i = 0; i < la.length; i++) diff = Math.max(diff, Math.abs(la[i]! - lb[i]!));
    expect(diff).toBeGreaterThan(1e-2);
  }, 120_000);
});
