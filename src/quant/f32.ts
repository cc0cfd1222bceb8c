import wgsl from '../../shaders/weights_f32.wgsl?raw';
import type { FormatSpec } from './spec.js';

/** f32: little-endian floats. */
export const f32: FormatSpec = {
  name: 'f32',
  ggml: 'F32',
  block: 1,
  bytes: 4,
  gpu: { words: 1, scaleAt: null },
  wgslWords: 4,
  wgsl,
  intDot: false,
  masked: false,
  dequantize(_src, dv, out, n) {
    for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
  },
  quantizeBlock(x, at, dv, o) {
    dv.setFloat32(o, x[at]!, true);
  },
};
