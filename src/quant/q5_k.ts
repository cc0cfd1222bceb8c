import wgsl from '../../shaders/weights_q5_k.wgsl?raw';
import { dequantizeK45, kQuantWgsl, quantizeK45 } from './q4_k.js';
import type { FormatSpec } from './spec.js';

/**
 * q5_k (ggml Q5_K): Q4_K plus a fifth bit per value: 176 bytes (44 words, all aligned): d, dmin,
 * scales[12], qh[32], qs[128]. Held as stored.
 */
export const q5_k: FormatSpec = {
  name: 'q5_k',
  ggml: 'Q5_K',
  block: 256,
  bytes: 176,
  gpu: { words: 44, scaleAt: null },
  wgslWords: 1,
  wgsl: kQuantWgsl(wgsl),
  intDot: true,
  masked: true,
  dequantize: (src, dv, out, blocks) => dequantizeK45(src, dv, out, blocks, true),
  quantizeBlock: (x, at, dv, o, out) => quantizeK45(x, at, dv, o, out, true),
};
