/**
 * CPU reference of the GPU sampler (shaders/sample.wgsl), written for clarity: it sorts where
 * the GPU searches. It defines the semantics the kernel must match:
 *
 *  1. penalties on the raw logit x of a token seen n > 0 times (llama.cpp order):
 *     x > 0 ? x / rep : x * rep, then x -= n * frequency + presence
 *  2. temperature: z = x / T (T = 0: greedy, z = x and the argmax wins)
 *  3. filters, each keeping every token with z >= its cutoff (ties at a cutoff are all kept):
 *     top-k: the k-th largest z;
 *     top-p: within the top-k set, the smallest z such that the tokens from the top down to it
 *            hold at least topP of the set's probability;
 *     min-p: zmax + ln(minP), i.e. p >= minP * p_max
 *  4. the draw: argmax over kept tokens of z_i + g_i, g_i Gumbel noise from a hash of (seed, i)
 *     (the Gumbel-max trick: token i wins with probability softmax(z)_i over the kept set).
 *
 * The GPU works in f32; the steps whose rounding decides a token (penalties, temperature, noise)
 * are rounded to f32 here too with Math.fround, so both pick the same token unless two
 * candidates are within a few ulps of each other.
 */

import type { SamplingParams, SampleResult } from '../kernels/sampling.js';

export type { SamplingParams, SampleResult };

const f32 = Math.fround;

/** The lowest f32: NaN and -inf logits are read as this, +inf as its negation. */
export const NEG_F32 = -3.4028234663852886e38;

export function cleanLogit(x: number): number {
  if (Number.isNaN(x)) return NEG_F32;
  return Math.min(Math.max(x, NEG_F32), -NEG_F32);
}

export function isGreedy(p: SamplingParams): boolean {
  return p.temperature === 0;
}

/** Penalties, then temperature: the z the filters and the draw work on. */
export function processLogitsRef(logits: ArrayLike<number>, counts: ArrayLike<number>, p: SamplingParams): Float32Array {
  const invTemp = isGreedy(p) ? 1 : f32(1 / p.temperature);
  const rep = f32(p.repetitionPenalty);
  const invRep = f32(1 / p.repetitionPenalty);
  const freq = f32(p.frequencyPenalty);
  const pres = f32(p.presencePenalty);
  const z = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) {
    const x = cleanLogit(logits[i]!);
    const n = counts[i] ?? 0;
    let y = x;
    if (n > 0) {
      y = x > 0 ? f32(x * invRep) : f32(x * rep);
      y = f32(y - f32(f32(n * freq) + pres));
    }
    z[i] = cleanLogit(f32(y * invTemp));
  }
  return z;
}

/** The cutoff of the filters on z (see the top of this file); -Infinity when none is on. */
export function cutoffRef(z: Float32Array, p: SamplingParams): number {
  if (isGreedy(p)) return -Infinity;
  const sorted = Array.from(z).sort((a, b) => b - a);
  const zmax = sorted[0]!;
  let cut = -Infinity;
  if (p.topK > 0 && p.topK < z.length) cut = sorted[p.topK - 1]!;
  if (p.topP < 1) {
    const inSet = sorted.filter((v) => v >= cut);
    const mass = inSet.map((v) => Math.exp(v - zmax));
    const target = p.topP * mass.reduce((s, m) => s + m, 0);
    let cum = 0;
    let m = inSet.length - 1; // if rounding never reaches the target, keep the whole set
    for (let j = 0; j < inSet.length; j++) {
      cum += mass[j]!;
      if (cum >= target) {
        m = j;
        break;
      }
    }
    cut = Math.max(cut, inSet[m]!);
  }
  if (p.minP > 0) cut = Math.max(cut, f32(zmax + f32(Math.log(p.minP))));
  return cut;
}

/** PCG hash (Jarzynski and Olano 2020), a permutation of u32, as in shaders/sample.wgsl. */
export function pcgHash(v: number): number {
  const s = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}

/** Uniform in (0, 1) for token i under `seed`: 23 hash bits and a half, exact in f32. */
export function uniformRef(seed: number, i: number): number {
  return ((pcgHash((pcgHash(seed) ^ i) >>> 0) >>> 9) + 0.5) * 2 ** -23;
}

const INV_K = Array.from({ length: 11 }, (_, k) => f32(1 / (k + 1)));

/** Gumbel noise -log(-log(u)) for token i under `seed`, computed as the shader does. */
export function gumbelRef(seed: number, i: number): number {
  const u = uniformRef(seed, i);
  let e: number;
  if (u > 0.75) {
    // -log(1 - w) by its series, as the shader computes it (see there why)
    const w = 1 - u;
    let acc = INV_K[10]!;
    for (let k = 9; k >= 0; k--) acc = f32(INV_K[k]! + f32(w * acc));
    e = f32(w * acc);
  } else {
    e = f32(-Math.log(u));
  }
  return f32(-Math.log(e));
}

/** Argmax with ties to the lowest index, over the indices where `keep` holds. */
function argmax(n: number, value: (i: number) => number, keep: (i: number) => boolean): number {
  let best = -1;
  let bv = -Infinity;
  for (let i = 0; i < n; i++) {
    if (!keep(i)) continue;
    const v = value(i);
    if (best < 0 || v > bv) {
      best = i;
      bv = v;
    }
  }
  return Math.max(best, 0);
}

/**
 * Constrained decoding: the logits with every token outside `mask` (bit id & 31 of word id >> 5)
 * set to -inf, which every step above then reads as the lowest f32, as the shader does.
 */
export function maskLogitsRef(logits: ArrayLike<number>, mask: Uint32Array): Float32Array {
  return Float32Array.from(logits, (x, i) => (((mask[i >>> 5]! >>> (i & 31)) & 1) === 1 ? x : -Infinity));
}

/** log-softmax of the raw logits, in f64. */
export function logSoftmaxRef(logits: ArrayLike<number>): Float64Array {
  const x = Array.from(logits, cleanLogit);
  const m = x.reduce((a, b) => Math.max(a, b), -Infinity);
  let s = 0;
  for (const v of x) s += Math.exp(v - m);
  const lse = m + Math.log(s);
  return Float64Array.from(x, (v) => v - lse);
}

/** The n best tokens under the raw log-softmax, best first, ties to the lower id. */
export function topLogprobsRef(logits: ArrayLike<number>, n: number): { id: number; logprob: number }[] {
  if (n <= 0) return [];
  const lp = logSoftmaxRef(logits);
  const order = Array.from(lp.keys()).sort((a, b) => lp[b]! - lp[a]! || a - b);
  return order.slice(0, n).map((id) => ({ id, logprob: lp[id]! }));
}

/** One sampling step: the token the GPU sampler must pick for these logits, counts and seed. */
export function sampleRef(logits: ArrayLike<number>, counts: ArrayLike<number>, p: SamplingParams, seed: number): SampleResult {
  const z = processLogitsRef(logits, counts, p);
  const cutoff = cutoffRef(z, p);
  const greedy = isGreedy(p);
  const token = argmax(
    z.length,
    (i) => (greedy ? z[i]! : f32(z[i]! + gumbelRef(seed, i))),
    (i) => z[i]! >= cutoff,
  );
  return { token, logprob: logSoftmaxRef(logits)[token]!, top: topLogprobsRef(logits, p.topLogprobs), cutoff };
}

/** The probability of drawing each token (what sampleRef's frequencies converge to). */
export function samplingProbsRef(logits: ArrayLike<number>, counts: ArrayLike<number>, p: SamplingParams): Float64Array {
  const z = processLogitsRef(logits, counts, p);
  const probs = new Float64Array(z.length);
  if (isGreedy(p)) {
    probs[argmax(z.length, (i) => z[i]!, () => true)] = 1;
    return probs;
  }
  const cutoff = cutoffRef(z, p);
  const zmax = z.reduce((a, b) => Math.max(a, b), -Infinity);
  let s = 0;
  for (let i = 0; i < z.length; i++) {
    if (z[i]! >= cutoff) s += probs[i] = Math.exp(z[i]! - zmax);
  }
  for (let i = 0; i < z.length; i++) probs[i] = probs[i]! / s;
  return probs;
}
