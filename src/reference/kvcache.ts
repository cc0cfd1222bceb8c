import { ropeRef } from './rope.js';

/**
 * Copy k, v [tokens, nKvHeads, headDim] into caches [nKvHeads, maxCtx, headDim] at positions
 * pos0 .. pos0 + tokens - 1, rotating K first when `rope` is given. Mutates the caches.
 */
export function kvAppendRef(
  kCache: Float32Array,
  vCache: Float32Array,
  k: Float32Array,
  v: Float32Array,
  tokens: number,
  nKvHeads: number,
  headDim: number,
  maxCtx: number,
  pos0: number,
  rope?: { invFreq: Float32Array; rotaryDim: number; style: 'half' | 'interleaved' },
): void {
  const kr = new Float32Array(k.subarray(0, tokens * nKvHeads * headDim));
  if (rope) ropeRef(kr, tokens, nKvHeads, headDim, rope.rotaryDim, rope.invFreq, rope.style, pos0);
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < nKvHeads; h++) {
      const src = (t * nKvHeads + h) * headDim;
      const dst = (h * maxCtx + pos0 + t) * headDim;
      kCache.set(kr.subarray(src, src + headDim), dst);
      vCache.set(v.subarray(src, src + headDim), dst);
    }
  }
}
