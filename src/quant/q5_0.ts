import wgsl from '../../shaders/weights_q5_0.wgsl?raw';
import { blockWgsl, SPLIT_SCALE_WGSL, BLOCK_SCALE_WGSL, Q4_ORDER_WGSL, clamp, half, putHalf, type FormatSpec } from './spec.js';

/**
 * Q5_0/Q5_1's 32 five-bit values: a u32 mask of fifth bits (bit j for value j) at `qhAt`, then 16
 * bytes of nibbles in q4_0's order; x = d * (q + offset) + m.
 */
export function dequantize5(src: Uint8Array, dv: DataView, out: Float32Array, blocks: number, withMin: boolean): void {
  const size = withMin ? 24 : 22;
  const qhAt = withMin ? 4 : 2;
  for (let b = 0; b < blocks; b++) {
    const o = b * size;
    const d = half(dv, o);
    const m = withMin ? half(dv, o + 2) : 0;
    const offset = withMin ? 0 : -16;
    const qh = dv.getUint32(o + qhAt, true);
    const y = b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[o + qhAt + 4 + j]!;
      const h0 = ((qh >>> j) << 4) & 0x10;
      const h1 = (qh >>> (j + 12)) & 0x10;
      out[y + j] = d * (((q & 0xf) | h0) + offset) + m;
      out[y + j + 16] = d * (((q >> 4) | h1) + offset) + m;
    }
  }
}

/** Pack 32 five-bit values q(x) into the mask at `qhAt` and the nibbles after it. */
export function pack5(x: Float32Array, at: number, dv: DataView, qhAt: number, out: Uint8Array, q: (v: number) => number): void {
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    const a = q(x[at + j]!);
    const b = q(x[at + j + 16]!);
    out[qhAt + 4 + j] = (a & 0xf) | ((b & 0xf) << 4);
    qh |= ((a >> 4) << j) | ((b >> 4) << (j + 16));
  }
  dv.setUint32(qhAt, qh >>> 0, true);
}

/**
 * The fifth bits of a block as the GPU keeps them (shaders/weights_q5_0.wgsl): bit s of byte b is
 * the bit of value 16 * (s >> 2) + 4 * (s & 3) + b, the value in byte b of nibble word s & 3 (its
 * high nibble when s >= 4), so that a chunk's bits are one shift and mask away.
 */
export function q5hToGpu(qh: number): number {
  let out = 0;
  for (let b = 0; b < 4; b++) for (let s = 0; s < 8; s++) out |= ((qh >>> (16 * (s >> 2) + 4 * (s & 3) + b)) & 1) << (8 * b + s);
  return out >>> 0;
}

/**
 * q5_0: blocks of 32 values, 22 bytes: f16 scale d, u32 fifth bits, 16 bytes of nibbles;
 * x = d * (q - 16). On the GPU: 5 words (fifth bits rearranged by q5hToGpu, nibbles) per block,
 * d in the scales buffer.
 */
export const q5_0: FormatSpec = {
  name: 'q5_0',
  ggml: 'Q5_0',
  block: 32,
  bytes: 22,
  gpu: { words: 5, scaleAt: 0, block: (words, at) => void (words[at] = q5hToGpu(words[at]!)) },
  wgslWords: 1,
  wgsl: blockWgsl(SPLIT_SCALE_WGSL, BLOCK_SCALE_WGSL, Q4_ORDER_WGSL, wgsl),
  intDot: true,
  masked: true,
  dequantize: (src, dv, out, blocks) => dequantize5(src, dv, out, blocks, false),
  quantizeBlock(x, at, dv, o, out) {
    let max = 0;
    for (let j = 0; j < 32; j++) if (Math.abs(x[at + j]!) > Math.abs(max)) max = x[at + j]!;
    const d = putHalf(dv, o, max / -16);
    pack5(x, at, dv, o + 2, out, (v) => (d ? clamp(Math.round(v / d) + 16, 0, 31) : 16));
  },
};
