/**
 * RoPE in place on x [tokens, nHeads, headDim], token t at position pos0 + t. Angles and their
 * cos/sin in f64: the kernel's differences from this are its f32 rounding. With `f32Angle`
 * the angle is first rounded to f32, as Hugging Face (and the kernel) compute it.
 */
export function ropeRef(
  x: Float32Array,
  tokens: number,
  nHeads: number,
  headDim: number,
  rotaryDim: number,
  invFreq: Float32Array,
  style: 'half' | 'interleaved',
  pos0: number,
  f32Angle = false,
): Float32Array {
  const half = rotaryDim / 2;
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < nHeads; h++) {
      const base = (t * nHeads + h) * headDim;
      for (let j = 0; j < half; j++) {
        const exact = (pos0 + t) * invFreq[j]!;
        const angle = f32Angle ? Math.fround(exact) : exact;
        const [i0, i1] = style === 'half' ? [j, j + half] : [2 * j, 2 * j + 1];
        const a = x[base + i0]!;
        const b = x[base + i1]!;
        x[base + i0] = a * Math.cos(angle) - b * Math.sin(angle);
        x[base + i1] = a * Math.sin(angle) + b * Math.cos(angle);
      }
    }
  }
  return x;
}
