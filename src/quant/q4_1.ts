import wgsl from '../../shaders/weights_q4_1.wgsl?raw';
import { blockWgsl, Q4_ORDER_WGSL, clamp, half, putHalf, range, type FormatSpec } from './spec.js';

/**
 * q4_1: blocks of 32 values, 20 bytes: f16 scale d, f16 min m, then 16 bytes of nibbles in
 * q4_0's order; x = d * nibble + m. 20 bytes are 5 whole words: the GPU holds the blocks as stored.
 * The quantizer takes each block's min and max (no error search as llama.cpp's does).
 */
export const q4_1: FormatSpec = {
  name: 'q4_1',
  ggml: 'Q4_1',
  block: 32,
  bytes: 20,
  gpu: { words: 5, scaleAt: null },
  wgslWords: 1,
  wgsl: blockWgsl(Q4_ORDER_WGSL, wgsl),
  intDot: true,
  masked: true,
  dequantize(src, dv, out, blocks) {
    for (let b = 0; b < blocks; b++) {
      const o = b * 20;
      const d = half(dv, o);
      const m = half(dv, o + 2);
      const y = b * 32;
      for (let j = 0; j < 16; j++) {
        const q = src[o + 4 + j]!;
        out[y + j] = d * (q & 0xf) + m;
        out[y + j + 16] = d * (q >> 4) + m;
      }
    }
  },
  quantizeBlock(x, at, dv, o, out) {
    const r = range(x, at, 32);
    const d = putHalf(dv, o, (r.max - r.min) / 15);
    const m = putHalf(dv, o + 2, r.min);
    const q = (v: number) => (d ? clamp(Math.round((v - m) / d), 0, 15) : 0);
    for (let j = 0; j < 16; j++) out[o + 4 + j] = q(x[at + j]!) | (q(x[at + j + 16]!) << 4);
  },
};
