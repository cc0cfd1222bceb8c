/**
 * 8-bit blocks of K/V values, as a q8 KV cache holds them on the GPU (shaders/kv_append_q8.wgsl)
 * and a stored session's q8 chunks on disk (sessions/kv-codec.ts): per block of `block` values one
 * f32 scale s = max |x| / 127, rounded up to 17 significant bits, and q = round(x / s), ties to
 * even as WGSL's round, in -127..127. With s that short, every q * s (|q| < 2^7) is exact in f32,
 * so values dequantized and quantized again come back the same, scale and all: a KV cache read out
 * and written back (sessions, exportKv / importKv) continues exactly as the original.
 */

const bits = new Uint32Array(1);
const float = new Float32Array(bits.buffer);

/** v >= 0 rounded up to 17 significant bits (the low 7 of f32's 23 stored ones cleared). */
export function roundScale(v: number): number {
  float[0] = v;
  bits[0] = (bits[0]! + 0x7f) & 0xffffff80;
  return float[0]!;
}

/** Round to nearest, ties to even (WGSL's round; Math.round sends ties up). */
function roundEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Quantizes x into q (x.length values) and scales (one per block; a last partial block too). */
export function quantizeQ8Blocks(x: Float32Array, block: number, q: Int8Array, scales: Float32Array): void {
  for (let b = 0, lo = 0; lo < x.length; b++, lo += block) {
    const hi = Math.min(x.length, lo + block);
    let max = 0;
    for (let i = lo; i < hi; i++) max = Math.max(max, Math.abs(x[i]!));
    const scale = roundScale(Math.fround(max / 127));
    scales[b] = scale;
    const inv = scale > 0 ? Math.fround(1 / scale) : 0;
    for (let i = lo; i < hi; i++) q[i] = Math.max(-127, Math.min(127, roundEven(Math.fround(x[i]! * inv))));
  }
}

/** The values q holds: q[i] * scales[i / block], into out. */
export function dequantizeQ8Blocks(q: Int8Array, scales: Float32Array, block: number, out: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] = q[i]! * scales[Math.floor(i / block)]!;
}
