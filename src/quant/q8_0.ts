import wgsl from '../../shaders/weights_q8_0.wgsl?raw';
import { f32ToF16Bits } from '../util/f16.js';
import { blockWgsl, SPLIT_SCALE_WGSL, BLOCK_SCALE_WGSL, half, type FormatSpec } from './spec.js';

/**
 * q8_0: blocks of 32 values, 34 bytes: f16 scale d, then 32 int8 q; x = d * q. Quantized exactly
 * as ggml's reference quantizer does. On the GPU: 8 words of q per block, d in the scales buffer.
 */
export const q8_0: FormatSpec = {
  name: 'q8_0',
  ggml: 'Q8_0',
  block: 32,
  bytes: 34,
  gpu: { words: 8, scaleAt: 0 },
  wgslWords: 2,
  wgsl: blockWgsl(SPLIT_SCALE_WGSL, BLOCK_SCALE_WGSL, wgsl),
  intDot: true,
  masked: true,
  dequantize(_src, dv, out, blocks) {
    for (let b = 0; b < blocks; b++) {
      const o = b * 34;
      const d = half(dv, o);
      for (let j = 0; j < 32; j++) out[b * 32 + j] = d * dv.getInt8(o + 2 + j);
    }
  },
  quantizeBlock(x, at, dv, o) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[at + j]!));
    const d = amax / 127;
    const id = d ? 1 / d : 0;
    dv.setUint16(o, f32ToF16Bits(d), true);
    for (let j = 0; j < 32; j++) dv.setInt8(o + 2 + j, Math.round(x[at + j]! * id));
  },
};
