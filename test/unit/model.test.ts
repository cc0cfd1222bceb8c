/**
 * Whole models: the GPU forward pass against the CPU reference forward, on seeded random-weight
 * models of several shapes (GQA ratios 1/3/4, head_dim 64/128, tied/untied, Qwen2 biases, Qwen3
 * q/k norm, Llama 3 RoPE scaling), written as Hugging Face safetensors and as GGUF.
 *
 * Tolerance: both sides use exactly the same (dequantized) weights, so the differences are f32
 * rounding and summation order through a few layers: logits agree to 1e-3 of their range, and
 * the greedy ids over a multi-token prompt and 16 KV-cached steps are identical.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { SyntheticSpec } from '../fixtures/synthetic.js';
import { engineFor, expectGreedyMatchesReference, referenceFor, syntheticSource, type FileFormat } from '../helpers/models.js';
import { syntheticWeights, writeGgufModel } from '../fixtures/synthetic.js';
import { MemoryModelSource } from '../../src/hub/memory.js';
import { compare } from '../helpers/random.js';
import type { Engine } from '../../src/engine/engine.js';

const base = { layers: 2, vocab: 384, intermediate: 320, ropeTheta: 10000, seed: 7 };
const CONFIGS: Record<string, SyntheticSpec> = {
  'llama gqa1 hd64 tied': { ...base, arch: 'llama', hidden: 128, heads: 4, kvHeads: 4, headDim: 64, tied: true },
  'llama gqa3 hd64 untied llama3-rope': { ...base, arch: 'llama', hidden: 192, heads: 6, kvHeads: 2, headDim: 64, tied: false, llama3Scaling: true, ropeTheta: 500000, seed: 8 },
  'llama gqa4 hd128 tied': { ...base, arch: 'llama', hidden: 256, heads: 4, kvHeads: 1, headDim: 128, tied: true, seed: 9 },
  'qwen2 gqa2 hd64 biases': { ...base, arch: 'qwen2', hidden: 128, heads: 4, kvHeads: 2, headDim: 64, tied: true, ropeTheta: 1e6, seed: 10 },
  'qwen3 gqa4 hd128 qk-norm': { ...base, arch: 'qwen3', hidden: 128, heads: 4, kvHeads: 1, headDim: 128, tied: false, ropeTheta: 1e6, seed: 11 },
};

const FORMATS: FileFormat[] = [
  { kind: 'hf', dtype: 'F32' },
  { kind: 'hf', dtype: 'F16' },
  { kind: 'hf', dtype: 'BF16' },
  { kind: 'gguf', type: 'F32' },
  { kind: 'gguf', type: 'F16' },
  { kind: 'gguf', type: 'Q8_0' },
  { kind: 'gguf', type: 'Q4_0' },
];
const fmtName = (f: FileFormat) => (f.kind === 'hf' ? `safetensors ${f.dtype}` : `gguf ${f.type}`);

const PROMPT = [1, 17, 250, 3, 99, 42, 300, 5, 77];
const STEPS = 16;
const CTX = 64;

const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines) await e.unload();
});

async function checkAgainstReference(spec: SyntheticSpec, format: FileFormat, prefillChunk?: number) {
  const source = syntheticSource(spec, format);
  const engine = await engineFor(source, CTX, { prefillChunk });
  engines.push(engine);
  // greedy ids, and per step the top-5 log-probabilities against the reference's log-softmax
  const ref = await expectGreedyMatchesReference(engine, source, CTX, PROMPT, STEPS);
  // the prompt's logits, directly
  const logits = await engine.logits(PROMPT);
  const err = compare(logits, ref.greedy(PROMPT, 1).logits[0]!);
  expect(err.maxRel).toBeLessThan(1e-3);
  await engine.unload();
  engines.pop();
}

describe('GPU forward matches the reference forward', () => {
  Object.entries(CONFIGS).forEach(([name, spec], i) => {
    // every config in f32 safetensors, plus a rotating pair of the other formats
    // (configs 3 and 4 are shifted so the Qwen models also meet quantized GGUF files)
    const r = 2 * i + (i > 2 ? 3 : 0);
    const formats = [FORMATS[0]!, FORMATS[1 + (r % 6)]!, FORMATS[1 + ((r + 1) % 6)]!];
    for (const f of formats) {
      it(`${name}, ${fmtName(f)}`, () => checkAgainstReference(spec, f));
    }
  });

  it('chunked prefill (chunk 4 over a 9-token prompt) gives the same ids as one chunk', () => checkAgainstReference(CONFIGS['llama gqa3 hd64 untied llama3-rope']!, { kind: 'gguf', type: 'Q8_0' }, 4));
});

describe('GGUF files in ggml block types, read as stored (Q4_1, Q5_0, k-quants Q4_K..Q6_K) or widened at load', () => {
  // hidden 256: most matrices are whole 256-value super-blocks; the 320-wide FFN-down rows take
  // llama.cpp's fallbacks (Q5_0 for Q4_K, Q5_1 for Q5_K, IQ4_NL for Q2_K/Q3_K/IQ4_XS)
  const spec = CONFIGS['llama gqa4 hd128 tied']!;
  for (const type of ['Q4_K_M', 'Q2_K', 'Q3_K', 'Q5_K', 'IQ4_XS', 'Q4_1'] as const) {
    it(`gguf ${type} matches the reference on the same weights`, async () => {
      await checkAgainstReference(spec, { kind: 'gguf', type });
    });
  }
});

describe('fused projections: Q|K|V and gate|up', () => {
  it('run as one matmul each when their weights share a format, apart when not, with the same results', async () => {
    // Qwen2: the q/k/v biases are fused (or kept apart) with their matrices
    const spec = CONFIGS['qwen2 gqa2 hd64 biases']!;
    const w = syntheticWeights(spec);
    const mixed = new MemoryModelSource({ 'model.gguf': writeGgufModel(spec, w, 'Q8_0', undefined, (n) => (/\.(gate|k)$/.test(n) ? 'Q4_0' : undefined)) }, 'memory:k-gate-q4');
    const same = new MemoryModelSource({ 'model.gguf': writeGgufModel(spec, w, 'Q8_0') }, 'memory:q8');
    const apart = await engineFor(mixed, CTX);
    const fused = await engineFor(same, CTX);
    try {
      // three launches fewer per layer when fused (q, k, v -> qkv; gate, up -> gate_up)
      expect(apart.info.dispatchesPerToken - fused.info.dispatchesPerToken).toBe(3 * spec.layers);
      expect(apart.info.weightFormats).toMatchObject({ q4_0: 2 * spec.layers });
      for (const [engine, source] of [[apart, mixed], [fused, same]] as const) {
        const want = (await referenceFor(source, CTX)).greedy(PROMPT, 8);
        const got = await engine.generate({ promptIds: PROMPT, maxTokens: 8, sampling: { temperature: 0 }, stopIds: [] });
        expect(got.ids).toEqual(want.ids);
        expect(compare(await engine.logits(PROMPT), want.logits[0]!).maxRel).toBeLessThan(1e-3);
      }
    } finally {
      await apart.unload();
      await fused.unload();
    }
  });
});

describe("activations: 'q8' (inputs of quantized matrices quantized as llama.cpp does)", () => {
  // q8_0 blocks for Q8_0/Q4_1 matrices, q8_K for the k-quants (hidden 256: whole 256-value blocks)
  for (const type of ['Q8_0', 'Q4_1', 'Q4_K_M'] as const) {
    it(`gguf ${type} matches the reference quantizing the same inputs`, async () => {
      const spec = CONFIGS['llama gqa4 hd128 tied']!;
      const source = syntheticSource(spec, { kind: 'gguf', type });
      const engine = await engineFor(source, CTX, { activations: 'q8' });
      const plain = await engineFor(source, CTX);
      try {
        const ref = await referenceFor(source, CTX, undefined, 'q8');
        const want = ref.greedy(PROMPT, 8);
        const got = await engine.generate({ promptIds: PROMPT, maxTokens: 8, sampling: { temperature: 0 }, stopIds: [] });
        expect(got.ids).toEqual(want.ids);
        // a value next to a rounding boundary may land one 8-bit step apart on the two sides
        expect(compare(await engine.logits(PROMPT), want.logits[0]!).maxRel).toBeLessThan(5e-3);
        // one quantize launch before each matmul's input: attention in, o in, MLP in, down in, lm_head in;
        // and quantized inputs are not fused into the GEMVs: each layer's two norms and gated product,
        // its RoPE of q and KV append (fused only where q|k|v is one matrix: not in Q4_K_M, whose v is
        // Q6_K), and the final norm, are launches again
        const unfused = type === 'Q4_K_M' ? 3 : 5;
        expect(engine.info.dispatchesPerToken - plain.info.dispatchesPerToken).toBe(4 * spec.layers + 1 + unfused * spec.layers + 1);
      } finally {
        await engine.unload();
        await plain.unload();
      }
    });
  }
});

describe('file formats agree', () => {
  it('the same model as safetensors (rotate-half) and GGUF (permuted Q/K, interleaved RoPE) gives the same greedy ids', async () => {
    for (const spec of [CONFIGS['llama gqa3 hd64 untied llama3-rope']!, CONFIGS['qwen2 gqa2 hd64 biases']!]) {
      const ids: number[][] = [];
      for (const f of [{ kind: 'hf', dtype: 'F32' }, { kind: 'gguf', type: 'F32' }] as FileFormat[]) {
        const e = await engineFor(syntheticSource(spec, f), CTX);
        ids.push((await e.generate({ promptIds: PROMPT, maxTokens: STEPS, sampling: { temperature: 0 }, stopIds: [] })).ids);
        await e.unload();
      }
      expect(ids[1]).toEqual(ids[0]);
    }
  });

  it('quantizing at load (q8_0, q4_0) matches the reference on the same quantized weights', async () => {
    const spec = CONFIGS['llama gqa1 hd64 tied']!;
    const source = syntheticSource(spec, { kind: 'hf', dtype: 'BF16' });
    for (const dtype of ['q8_0', 'q4_0'] as const) {
      const engine = await engineFor(source, CTX, { dtype });
      const ref = await referenceFor(source, CTX, dtype);
      const got = await engine.generate({ promptIds: PROMPT, maxTokens: 8, sampling: { temperature: 0 }, stopIds: [] });
      expect(got.ids).toEqual(ref.greedy(PROMPT, 8).ids);
      expect(engine.info.weightFormats[dtype]).toBeGreaterThan(0);
      await engine.unload();
    }
  });
});
