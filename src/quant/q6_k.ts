import wgsl from '../../shaders/weights_q6_k.wgsl?raw';
import { blockWgsl, SPLIT_SCALE_WGSL, clamp, half, putHalf, range, type FormatSpec } from './spec.js';

/**
 * q6_k (ggml Q6_K): super-blocks of 256 values, 210 bytes: ql[128] (low nibbles), qh[64] (high
 * two bits), scales[16] (int8, one per 16 values), f16 d; x = d * scale * (q - 32). Each 128
 * values use 64 bytes of ql and 32 of qh. On the GPU: the first 208 bytes (52 words) per block,
 * d in the scales buffer.
 */
export const q6_k: FormatSpec = {
  name: 'q6_k',
  ggml: 'Q6_K',
  block: 256,
  bytes: 210,
  gpu: { words: 52, scaleAt: 208 },
  wgslWords: 1,
  wgsl: blockWgsl(SPLIT_SCALE_WGSL, wgsl),
  intDot: true,
  masked: true,
  dequantize(src, dv, out, blocks) {
    for (let b = 0; b < blocks; b++) {
      const o = b * 210;
      const d = half(dv, o + 208);
      for (let n = 0; n < 2; n++) {
        const ql = o + n * 64;
        const qh = o + 128 + n * 32;
        const sc = o + 192 + n * 8;
        const y = b * 256 + n * 128;
        for (let l = 0; l < 32; l++) {
          const is = l >> 4;
          const h = src[qh + l]!;
          const q1 = ((src[ql + l]! & 0xf) | ((h & 3) << 4)) - 32;
          const q2 = ((src[ql + l + 32]! & 0xf) | (((h >> 2) & 3) << 4)) - 32;
          const q3 = ((src[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32;
          const q4 = ((src[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32;
          out[y + l] = d * dv.getInt8(sc + is) * q1;
          out[y + l + 32] = d * dv.getInt8(sc + is + 2) * q2;
          out[y + l + 64] = d * dv.getInt8(sc + is + 4) * q3;
          out[y + l + 96] = d * dv.getInt8(sc + is + 6) * q4;
        }
      }
    }
  },
  quantizeBlock(x, at, dv, o, out) {
    const s16: number[] = [];
    for (let s = 0; s < 16; s++) s16.push(range(x, at + s * 16, 16).amax / 32);
    const d = putHalf(dv, o + 208, Math.max(...s16) / 127);
    for (let s = 0; s < 16; s++) {
      const sc = d ? clamp(Math.round(s16[s]! / d), 0, 127) : 0;
      dv.setInt8(o + 192 + s, sc);
    }
    for (let i = 0; i < 256; i++) {
      const sc = dv.getInt8(o + 192 + (i >> 4));
      const q = sc ? clamp(Math.round(x[at + i]! / (d * sc)), -32, 31) + 32 : 32;
      // value i: half n, quarter k (0..3 of 32), lane l
      const n = i >> 7;
      const k = (i >> 5) & 3;
      const l = i & 31;
      out[o + n * 64 + (k & 1) * 32 + l] |= (q & 0xf) << (k >> 1 ? 4 : 0);
      out[o + 128 + n * 32 + l] |= (q >> 4) << (2 * k);
    }
  },
};
