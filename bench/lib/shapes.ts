/**
 * The real model shapes the benchmarks run at: matrix and attention shapes per model, and the
 * synthetic-model specs (random weights, real shapes) for whole-model runs.
 */
import type { SyntheticSpec } from '../../test/fixtures/synthetic.js';

export interface ModelShape {
  name: string;
  arch: 'llama' | 'qwen2';
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  tied: boolean;
  ropeTheta: number;
}

export const MODELS: Record<'smollm2' | 'qwen25' | 'llama32', ModelShape> = {
  smollm2: { name: 'SmolLM2-135M', arch: 'llama', hidden: 576, intermediate: 1536, layers: 30, heads: 9, kvHeads: 3, headDim: 64, vocab: 49152, tied: true, ropeTheta: 100000 },
  qwen25: { name: 'Qwen2.5-0.5B', arch: 'qwen2', hidden: 896, intermediate: 4864, layers: 24, heads: 14, kvHeads: 2, headDim: 64, vocab: 151936, tied: true, ropeTheta: 1000000 },
  llama32: { name: 'Llama-3.2-1B', arch: 'llama', hidden: 2048, intermediate: 8192, layers: 16, heads: 32, kvHeads: 8, headDim: 64, vocab: 128256, tied: true, ropeTheta: 500000 },
};

export type ModelKey = keyof typeof MODELS;

export interface MatmulShape {
  model: string;
  name: string;
  /** Output features (rows of W). */
  n: number;
  /** Input features. */
  k: number;
  /** Only ever a GEMV in a forward pass: prefill computes logits for the last token alone. */
  gemvOnly?: boolean;
}

/** The distinct matrices of one layer (q and o coincide when heads * headDim == hidden), and lm_head. */
export function matmulShapes(m: ModelShape, withLmHead: boolean): MatmulShape[] {
  const q = m.heads * m.headDim;
  const kv = m.kvHeads * m.headDim;
  const out: MatmulShape[] = [];
  out.push({ model: m.name, name: q === m.hidden ? 'q/o' : 'q', n: q, k: m.hidden });
  out.push({ model: m.name, name: 'k/v', n: kv, k: m.hidden });
  out.push({ model: m.name, name: 'gate/up', n: m.intermediate, k: m.hidden });
  out.push({ model: m.name, name: 'down', n: m.hidden, k: m.intermediate });
  if (withLmHead) out.push({ model: m.name, name: 'lm_head', n: m.vocab, k: m.hidden, gemvOnly: true });
  return out;
}

export interface AttentionShape {
  model: string;
  heads: number;
  kvHeads: number;
  headDim: number;
}

export const attentionShape = (m: ModelShape): AttentionShape => ({ model: m.name, heads: m.heads, kvHeads: m.kvHeads, headDim: m.headDim });

/** A random-weight model at `m`'s shapes (seeded), for the fixture generator. */
export function syntheticSpec(m: ModelShape, seed = 1234): SyntheticSpec {
  return {
    arch: m.arch,
    hidden: m.hidden,
    intermediate: m.intermediate,
    layers: m.layers,
    heads: m.heads,
    kvHeads: m.kvHeads,
    headDim: m.headDim,
    vocab: m.vocab,
    tied: m.tied,
    ropeTheta: m.ropeTheta,
    maxPositions: 4096,
    seed,
  };
}

/** Bytes of K and V one decode step reads at `kvLen` positions (f32 cache), over all layers. */
export function kvBytesPerToken(m: Pick<ModelShape, 'layers' | 'kvHeads' | 'headDim'>, kvLen: number): number {
  return 2 * m.layers * m.kvHeads * m.headDim * 4 * kvLen;
}
