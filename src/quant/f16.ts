import wgsl from '../../shaders/weights_f16.wgsl?raw';
import { f32ToF16Bits } from '../util/f16.js';
import { half, type FormatSpec } from './spec.js';

/** f16: little-endian IEEE halves (read on the GPU with unpack2x16float: no shader-f16 needed). */
export const f16: FormatSpec = {
  name: 'f16',
  ggml: 'F16',
  block: 1,
  bytes: 2,
  gpu: { words: 1, scaleAt: null },
  wgslWords: 4,
  wgsl,
  intDot: false,
  masked: false,
  dequantize(_src, dv, out, n) {
    for (let i = 0; i < n; i++) out[i] = half(dv, i * 2);
  },
  quantizeBlock(x, at, dv, o) {
    dv.setUint16(o, f32ToF16Bits(x[at]!), true);
  },
};
