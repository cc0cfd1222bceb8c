/**
 * A model's weights on the GPU, apart from any state: what the loader builds and a recipe reads.
 * A projection that computes several outputs (Q|K|V, gate|up) is one type whether it was fused
 * into one matrix at load or kept apart (its parts then cover the outputs one each).
 */
import type { GpuWeight } from '../gpu/weights.js';
import { destroyWeight } from '../gpu/weights.js';

export interface ProjectionPart {
  weight: GpuWeight;
  /** Added to every output row ([rows] f32), or null. */
  bias: GPUBuffer | null;
  /** The outputs (sections) this part computes, in row order: all of them when fused. */
  outputs: number[];
}

/** One input, several outputs (q, k and v; gate and up), computed by one matmul or by one per output. */
export interface Projection {
  parts: ProjectionPart[];
}

export interface LayerWeights {
  attnNorm: GPUBuffer;
  /** Outputs q, k, v. */
  qkv: Projection;
  /** Per-head RMSNorm of q and k (Qwen3, Gemma 3), or null. */
  qNorm: GPUBuffer | null;
  kNorm: GPUBuffer | null;
  o: GpuWeight;
  /** RMSNorm of attention's output before the residual add (Gemma 3), or null. */
  postAttnNorm: GPUBuffer | null;
  ffnNorm: GPUBuffer;
  /** Outputs gate, up. */
  gateUp: Projection;
  down: GpuWeight;
  /** RMSNorm of the MLP's output before the residual add (Gemma 3), or null. */
  postFfnNorm: GPUBuffer | null;
}

export interface ModelWeights {
  embed: GpuWeight;
  layers: LayerWeights[];
  finalNorm: GPUBuffer;
  /** The same object as `embed` when the embeddings are tied. */
  lmHead: GpuWeight;
  /** RoPE inverse frequencies [rotaryDim / 2] of the (global) layers, scaling applied. */
  invFreq: GPUBuffer;
  /** Those of the sliding-window layers where they differ (Gemma 3's local base), else null. */
  invFreqLocal: GPUBuffer | null;
}

/** Every weight matrix of the model (the tied embedding once). */
export function allMatrices(w: ModelWeights): GpuWeight[] {
  const all = new Set<GpuWeight>([w.embed, w.lmHead]);
  for (const L of w.layers) {
    for (const p of [...L.qkv.parts, ...L.gateUp.parts]) all.add(p.weight);
    all.add(L.o);
    all.add(L.down);
  }
  return [...all];
}

export function destroyModelWeights(w: ModelWeights): void {
  for (const m of allMatrices(w)) destroyWeight(m);
  w.finalNorm.destroy();
  w.invFreq.destroy();
  w.invFreqLocal?.destroy();
  for (const L of w.layers) {
    for (const b of [L.attnNorm, L.ffnNorm, L.qNorm, L.kNorm, L.postAttnNorm, L.postFfnNorm, ...L.qkv.parts.map((p) => p.bias), ...L.gateUp.parts.map((p) => p.bias)]) b?.destroy();
  }
}
