/** Shapes shared by the attention kernel and its reference. */
export interface AttentionShape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** Positions per kv head in the cache: kCache/vCache are [nKvHeads, maxCtx, headDim]. */
  maxCtx: number;
}

export interface AttentionRefArgs extends AttentionShape {
  /** [tokens, nHeads, headDim] */
  q: Float32Array;
  kCache: Float32Array;
  vCache: Float32Array;
  tokens: number;
  /** Absolute position of the first token; token t attends to positions 0..pos+t. */
  pos: number;
  /** Softmax scale; 1/sqrt(headDim) by default. */
  scale?: number;
  /** Sliding window: the query at position q sees keys q - window < p <= q. 0 or absent: all p <= q. */
  window?: number;
}

/**
 * Causal multi-head attention with grouped KV heads, straight from the definition:
 * out[t, h] = softmax_p(scale * q[t,h] . k[g,p]) . v[g,p] over p <= pos + t (and p > pos + t - window
 * under a sliding window), g = floor(h / (nHeads/nKvHeads)).
 * Accumulates in f64 so it is a better oracle than any f32 kernel. Returns [tokens, nHeads * headDim].
 */
export function attentionRef(a: AttentionRefArgs): Float32Array {
  const { nHeads, nKvHeads, headDim: d, maxCtx, tokens, pos } = a;
  const scale = a.scale ?? 1 / Math.sqrt(d);
  const window = a.window ?? 0;
  const group = nHeads / nKvHeads;
  const out = new Float32Array(tokens * nHeads * d);
  for (let t = 0; t < tokens; t++) {
    const end = pos + t + 1;
    const start = window > 0 ? Math.max(0, end - window) : 0;
    const len = end - start;
    for (let h = 0; h < nHeads; h++) {
      const g = Math.floor(h / group);
      const qo = (t * nHeads + h) * d;
      const scores = new Float64Array(len);
      let max = -Infinity;
      for (let p = 0; p < len; p++) {
        const ko = (g * maxCtx + start + p) * d;
        let s = 0;
        for (let i = 0; i < d; i++) s += a.q[qo + i]! * a.kCache[ko + i]!;
        scores[p] = s * scale;
        max = Math.max(max, scores[p]!);
      }
      let sum = 0;
      for (let p = 0; p < len; p++) {
        scores[p] = Math.exp(scores[p]! - max);
        sum += scores[p]!;
      }
      for (let i = 0; i < d; i++) {
        let acc = 0;
        for (let p = 0; p < len; p++) acc += scores[p]! * a.vCache[(g * maxCtx + start + p) * d + i]!;
        out[qo + i] = acc / sum;
      }
    }
  }
  return out;
}
