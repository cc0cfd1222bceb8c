/**
 * What whole-model figures are made of, shared by the Node model bench and the browser run:
 * prompts, per-kernel profiles grouped by family, and decode as a fraction of the read roofline.
 */
import type { KernelTiming } from '../../src/gpu/profiler.js';
import { gpuByteLength } from '../../src/gpu/weights.js';
import type { WeightFormat } from '../../src/quant/formats.js';

/**
 * A prompt of `n` ids drawn from `seed` in [3, vocab). Each repeat passes a different seed, so no
 * run reuses the previous one's KV cache (the engine keeps a shared prefix, even a lone BOS).
 */
export function promptIds(n: number, vocab: number, seed: number): number[] {
  const ids: number[] = [];
  let s = (seed * 2654435761) >>> 0;
  while (ids.length < n) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    ids.push(3 + (s % (vocab - 3)));
  }
  return ids;
}

export interface KernelFamily {
  family: string;
  ms: number;
  launches: number;
  share: number;
}

/** Per-layer labels (L12.q.gemv, lm_head.gemv[0]) folded into families (q.gemv, lm_head.gemv), biggest first. */
export function groupKernels(t: KernelTiming[]): KernelFamily[] {
  const by = new Map<string, { ms: number; launches: number }>();
  for (const k of t) {
    const family = k.label.replace(/^L\d+\./, '').replace(/\[\d+\]/g, '');
    const e = by.get(family) ?? { ms: 0, launches: 0 };
    e.ms += k.ms;
    e.launches += k.count;
    by.set(family, e);
  }
  const total = [...by.values()].reduce((s, e) => s + e.ms, 0) || 1;
  return [...by].map(([family, e]) => ({ family, ms: e.ms, launches: e.launches, share: e.ms / total })).sort((a, b) => b.ms - a.ms);
}

/** GPU bytes of a [rows, cols] matrix in `format` (data plus block scales), as uploadWeight lays it out. */
export function gpuMatrixBytes(format: WeightFormat, rows: number, cols: number): number {
  return gpuByteLength(format, rows, cols);
}

export interface DecodeBytesInput {
  /** All weights on the GPU (engine.info.weightBytes). */
  weightBytes: number;
  tied: boolean;
  /** The embedding table's GPU bytes: read in full per token only when it doubles as lm_head. */
  embedBytes: number;
  layers: number;
  kvHeads: number;
  headDim: number;
  /** Mean KV length over the decode steps. */
  kvLen: number;
}

/** Bytes one decode step must read at least once: every weight used (not the embedding rows) and the f32 K/V. */
export function decodeBytesPerToken(i: DecodeBytesInput): { weights: number; kv: number; total: number } {
  const weights = i.weightBytes - (i.tied ? 0 : i.embedBytes);
  const kv = 2 * i.layers * i.kvHeads * i.headDim * 4 * i.kvLen;
  return { weights, kv, total: weights + kv };
}
