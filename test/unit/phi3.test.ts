/**
 * Phi-3 / Phi-3.5-mini against the CPU reference on seeded random-weight models, as Hugging Face
 * safetensors (F32, BF16) and GGUF (F16, Q8_0, Q4_0), stored as the real files store them: q|k|v
 * fused in qkv_proj / attn_qkv and gate|up in gate_up_proj / ffn_up, split at open into row
 * ranges of the same bytes; LongRoPE with short and long factors (config.json's rope_scaling,
 * GGUF's rope_factors_short/long tensors) and an original context shorter than the maximum, so
 * the attention factor is not 1; a sliding window in every layer, shorter than the prompt. Greedy
 * ids over a 40-token prompt and 24 cached steps are identical; top-5 log-probabilities agree
 * within 2e-3. A context past the original length takes the long factors.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { hfConfig, longRopeAttentionFactorOf, longRopeFactors, syntheticConfig, syntheticWeights, writeHfModel, type SyntheticSpec } from '../fixtures/synthetic.js';
import { MemoryModelSource } from '../../src/hub/memory.js';
import { engineFor, referenceFor, syntheticSource } from '../helpers/models.js';
import { ARCHITECTURE_FORMATS, formatName } from '../helpers/models.js';
import { expectGreedyMatchesReference } from '../helpers/models.js';
import type { Engine } from '../../src/engine/engine.js';
import { openModel, readTensor } from '../../src/formats/model-files.js';
import { configFromHf } from '../../src/formats/config.js';
import { longRopeFactors as factorsFor, modelInvFreq } from '../../src/models/rope-table.js';
import { rng } from '../helpers/random.js';

const SPEC: SyntheticSpec = { arch: 'phi3', hidden: 128, intermediate: 192, layers: 3, heads: 4, kvHeads: 2, headDim: 32, vocab: 384, tied: false, ropeTheta: 10000, maxPositions: 512, originalMaxPositions: 128, slidingWindow: 29, seed: 47 };
const r = rng(9);
const PROMPT = [1, ...Array.from({ length: 39 }, () => 3 + Math.floor(r() * 380))];
const STEPS = 24;
/** Within the original context: the short factors. */
const CTX = 96;
/** Past it: the long factors. */
const LONG_CTX = 160;

const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines) await e.unload();
});

const expectMatchesReference = (engine: Engine, ctx: number, source: Parameters<typeof referenceFor>[0]) => expectGreedyMatchesReference(engine, source, ctx, PROMPT, STEPS);

describe('Phi-3 on the GPU matches the reference forward', () => {
  it('reads config.json as Phi-3: LongRoPE factors, original context, attention factor folded into the score scale, a window in every layer', () => {
    const c = syntheticConfig(SPEC);
    const f = longRopeFactors(SPEC);
    const af = Math.sqrt(1 + Math.log(512 / 128) / Math.log(128));
    expect(c).toMatchObject({ architecture: 'phi3', hiddenAct: 'silu', ropeStyle: 'half', postNorms: false, qkNorm: false, attentionBias: false, tieWordEmbeddings: false, slidingWindow: 29, slidingLayers: [true, true, true], rotaryDim: 32 });
    expect(c.ropeScaling).toEqual({ type: 'longrope', shortFactor: f.short, longFactor: f.long, originalMaxPositionEmbeddings: 128, attentionFactor: af });
    expect(af).toBeGreaterThan(1.1);
    expect(c.attentionScale).toBeCloseTo((af * af) / Math.sqrt(32), 12);
    expect(factorsFor(c, 128)).toBe('short');
    expect(factorsFor(c, 129)).toBe('long');
    // Phi-3.5-mini's window (262144) is past its 131072 positions: no window
    expect(syntheticConfig({ ...SPEC, slidingWindow: 4096 })).toMatchObject({ slidingWindow: 0, slidingLayers: [false, false, false] });
  });

  it('reads the GGUF as llama.cpp does: factors from rope_factors_short/long, rope.scaling.original_context_length and attn_factor; fused matrices split into row ranges', async () => {
    const files = await openModel(syntheticSource(SPEC, { kind: 'gguf', type: 'Q8_0' }));
    const c = files.config;
    const f = longRopeFactors(SPEC);
    expect(c.ropeScaling).toMatchObject({ type: 'longrope', shortFactor: f.short, longFactor: f.long, originalMaxPositionEmbeddings: 128 });
    expect(c.ropeScaling?.type === 'longrope' && c.ropeScaling.attentionFactor).toBeCloseTo(longRopeAttentionFactorOf(SPEC), 6);
    expect(c).toMatchObject({ architecture: 'phi3', ropeStyle: 'half', slidingWindow: 29, slidingLayers: [true, true, true], tieWordEmbeddings: false });
    const [q, k, v, gate, up] = ['q', 'k', 'v', 'gate', 'up'].map((n) => files.tensors.get(`layers.1.${n}`)!);
    expect([q, k, v].map((t) => t.sourceName)).toEqual(['blk.1.attn_qkv.weight[0:128]', 'blk.1.attn_qkv.weight[128:192]', 'blk.1.attn_qkv.weight[192:256]']);
    expect([gate, up].map((t) => t.sourceName)).toEqual(['blk.1.ffn_up.weight[0:192]', 'blk.1.ffn_up.weight[192:384]']);
    const rowBytes = (128 / 32) * 34;
    expect([q, k, v].map((t) => [t.dtype, t.shape, t.byteLength])).toEqual([['Q8_0', [128, 128], 128 * rowBytes], ['Q8_0', [64, 128], 64 * rowBytes], ['Q8_0', [64, 128], 64 * rowBytes]]);
    expect(k.offset).toBe(q.offset + q.byteLength);
    expect(v.offset).toBe(k.offset + k.byteLength);
    expect(up.offset).toBe(gate.offset + gate.byteLength);
    expect(files.tensors.has('layers.1.qkv')).toBe(false);
    expect(files.tensors.has('layers.1.gate_up')).toBe(false);
  });

  it('the parts of a fused matrix are the matrices fused: q, k, v in order (safetensors), gate before up (GGUF)', async () => {
    const w = syntheticWeights(SPEC);
    for (const format of [{ kind: 'hf', dtype: 'F32' }, { kind: 'gguf', type: 'F32' }] as const) {
      const source = syntheticSource(SPEC, format);
      const files = await openModel(source);
      for (const name of ['layers.2.q', 'layers.2.k', 'layers.2.v', 'layers.2.gate', 'layers.2.up']) {
        const bytes = await readTensor(source, files.tensors.get(name)!);
        expect(new Float32Array(bytes.slice().buffer), `${format.kind} ${name}`).toEqual(w.get(name)!.data);
      }
    }
  });

  it('LongRoPE inverse frequencies: 1 / (factor[i] * theta^(2i/d)), short factors up to the original context, long past it', () => {
    const c = syntheticConfig(SPEC);
    const f = longRopeFactors(SPEC);
    const [short, long] = [modelInvFreq(c, 128), modelInvFreq(c, 129)];
    for (let i = 0; i < 16; i++) {
      expect(short[i]).toBeCloseTo(1 / (f.short[i]! * 10000 ** ((2 * i) / 32)), 7);
      expect(long[i]).toBeCloseTo(1 / (f.long[i]! * 10000 ** ((2 * i) / 32)), 7);
    }
  });

  it('refuses damaged LongRoPE settings by name', () => {
    const base = hfConfig(SPEC);
    const scaling = base.rope_scaling as Record<string, unknown>;
    const bad = (rope_scaling: unknown) => () => configFromHf({ ...base, rope_scaling }, { tensors: new Map() });
    expect(bad({ ...scaling, long_factor: [1, 2, 3] })).toThrow(expect.objectContaining({ code: 'CORRUPT_FILE', message: expect.stringMatching(/long_factor has 3 values, expected 16/) }));
    expect(bad({ ...scaling, short_factor: undefined })).toThrow(expect.objectContaining({ code: 'CORRUPT_FILE', message: expect.stringMatching(/short_factor is missing/) }));
    expect(bad({ ...scaling, short_factor: Array(16).fill(-1) })).toThrow(expect.objectContaining({ code: 'CORRUPT_FILE', message: expect.stringMatching(/short_factor\[0\] must be a positive number/) }));
    // the older name of the same scaling, and an explicit attention factor
    const su = configFromHf({ ...base, rope_scaling: { ...scaling, type: 'su', attention_factor: 1.5 } }, { tensors: new Map() });
    expect(su.ropeScaling).toMatchObject({ type: 'longrope', attentionFactor: 1.5 });
    expect(su.attentionScale).toBeCloseTo(2.25 / Math.sqrt(32), 12);
    // no original context stretched: factor 1, plain scale
    const same = configFromHf({ ...base, original_max_position_embeddings: 512 }, { tensors: new Map() });
    expect(same.ropeScaling).toMatchObject({ attentionFactor: 1 });
    expect(same.attentionScale).toBeCloseTo(1 / Math.sqrt(32), 12);
  });

  it('a fused matrix whose rows do not add up is CORRUPT_FILE naming it', async () => {
    // the config says 4 key/value heads where the fused tensors hold 2
    const files = writeHfModel(SPEC, syntheticWeights(SPEC), 'F32');
    files.set('config.json', new TextEncoder().encode(JSON.stringify({ ...hfConfig(SPEC), num_key_value_heads: 4 })));
    await expect(openModel(new MemoryModelSource(Object.fromEntries(files), 'memory:bad-phi3'))).rejects.toMatchObject({ code: 'CORRUPT_FILE', message: expect.stringContaining('model.layers.0.self_attn.qkv_proj.weight') });
  });

  it('q|k|v and gate|up, stored fused, are one matmul each again: as many launches as the same model stored apart', async () => {
    const phi3 = await engineFor(syntheticSource(SPEC, { kind: 'gguf', type: 'Q8_0' }), CTX);
    const llama = await engineFor(syntheticSource({ ...SPEC, arch: 'llama', slidingWindow: undefined, originalMaxPositions: undefined }, { kind: 'gguf', type: 'Q8_0' }), CTX);
    engines.push(phi3, llama);
    expect(phi3.info.dispatchesPerToken).toBe(llama.info.dispatchesPerToken);
  }, 120_000);

  for (const f of ARCHITECTURE_FORMATS) {
    it(`${formatName(f)}: same greedy ids over a 40-token prompt and 24 steps, top-5 within 2e-3`, async () => {
      const source = syntheticSource(SPEC, f);
      const engine = await engineFor(source, CTX, { prefillChunk: 16 });
      engines.push(engine);
      await expectMatchesReference(engine, CTX, source);
    }, 120_000);
  }

  it('a context past the original length uses the long factors: other logits, still the reference', async () => {
    const source = syntheticSource(SPEC, { kind: 'gguf', type: 'F16' });
    const [short, long] = [await engineFor(source, CTX), await engineFor(source, LONG_CTX, { prefillChunk: 16 })];
    engines.push(short, long);
    const ls = await short.logits(PROMPT);
    const ll = await long.logits(PROMPT);
    let diff = 0;
    for (let i = 0; i < ls.length; i++) diff = Math.max(diff, Math.abs(ls[i]! - ll[i]!));
    expect(diff).toBeGreaterThan(1e-2);
    // a KV cache rotated with one list is no use to the other: sessions see two models
    expect(long.identity.fingerprint).not.toBe(short.identity.fingerprint);
    await expectMatchesReference(long, LONG_CTX, source);
  }, 120_000);

  it('the window matters: the same model attending to everything gives other logits', async () => {
    const a = await engineFor(syntheticSource(SPEC, { kind: 'hf', dtype: 'F32' }), CTX);
    const b = await engineFor(syntheticSource({ ...SPEC, slidingWindow: undefined }, { kind: 'hf', dtype: 'F32' }), CTX);
    engines.push(a, b);
    const la = await a.logits(PROMPT);
    const lb = await b.logits(PROMPT);
    let diff = 0;
    for (let i = 0; i < la.length; i++) diff = Math.max(diff, Math.abs(la[i]! - lb[i]!));
    expect(diff).toBeGreaterThan(1e-2);
  }, 120_000);
});
