import wgsl from '../../shaders/weights_q4_0.wgsl?raw';
import { f32ToF16Bits } from '../util/f16.js';
import { blockWgsl, SPLIT_SCALE_WGSL, BLOCK_SCALE_WGSL, Q4_ORDER_WGSL, half, type FormatSpec } from './spec.js';

/**
 * q4_0: blocks of 32 values, 18 bytes: f16 scale d, then 16 bytes where byte j holds value j in
 * its low nibble and value j + 16 in its high nibble; x = d * (nibble - 8). Quantized exactly as
 * ggml's reference quantizer does. On the GPU: 4 words of nibbles per block, d in the scales buffer.
 */
export const q4_0: FormatSpec = {
  name: 'q4_0',
  ggml: 'Q4_0',
  block: 32,
  bytes: 18,
  gpu: { words: 4, scaleAt: 0 },
  wgslWords: 1,
  wgsl: blockWgsl(SPLIT_SCALE_WGSL, BLOCK_SCALE_WGSL, Q4_ORDER_WGSL, wgsl),
  intDot: true,
  masked: true,
  dequantize(src, dv, out, blocks) {
    for (let b = 0; b < blocks; b++) {
      const o = b * 18;
      const d = half(dv, o);
      for (let j = 0; j < 16; j++) {
        const byte = src[o + 2 + j]!;
        out[b * 32 + j] = d * ((byte & 0x0f) - 8);
        out[b * 32 + j + 16] = d * ((byte >> 4) - 8);
      }
    }
  },
  quantizeBlock(x, at, dv, o, out) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[at + j]!;
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = max / -8;
    const id = d ? 1 / d : 0;
    dv.setUint16(o, f32ToF16Bits(d), true);
    for (let j = 0; j < 16; j++) {
      const x0 = Math.min(15, Math.trunc(x[at + j]! * id + 8.5));
      const x1 = Math.min(15, Math.trunc(x[at + j + 16]! * id + 8.5));
      out[o + 2 + j] = x0 | (x1 << 4);
    }
  },
};
