import kScales from '../../shaders/weights_k_scales.wgsl?raw';
import wgsl from '../../shaders/weights_q4_k.wgsl?raw';
import { blockWgsl, clamp, half, putHalf, subScalesWithMin, type FormatSpec } from './spec.js';

/** Scale and min j (0..7) of a Q4_K/Q5_K block: six bits each, packed in 12 bytes at `at`. */
function scaleMinK4(src: Uint8Array, at: number, j: number): [number, number] {
  if (j < 4) return [src[at + j]! & 63, src[at + j + 4]! & 63];
  return [(src[at + j + 4]! & 0xf) | ((src[at + j - 4]! >> 6) << 4), (src[at + j + 4]! >> 4) | ((src[at + j]! >> 6) << 4)];
}

/**
 * Q4_K and Q5_K: d, dmin, scales[12], (Q5_K: qh[32]), qs[128]. Each 64 values share 32 bytes of
 * qs: low nibbles then high nibbles, with sub-block scales/mins 2i and 2i+1. Q5_K's fifth bit of
 * value l in sub-block s is bit s of qh[l]. x = d * scale * q - dmin * min.
 */
export function dequantizeK45(src: Uint8Array, dv: DataView, out: Float32Array, blocks: number, five: boolean): void {
  const size = five ? 176 : 144;
  const qsAt = five ? 48 : 16;
  for (let b = 0; b < blocks; b++) {
    const o = b * size;
    const d = half(dv, o);
    const dmin = half(dv, o + 2);
    let y = b * 256;
    for (let j = 0; j < 4; j++) {
      const q = o + qsAt + j * 32;
      for (let part = 0; part < 2; part++) {
        const [sc, mn] = scaleMinK4(src, o + 4, 2 * j + part);
        const dl = d * sc;
        const ml = dmin * mn;
        const bit = 1 << (2 * j + part);
        for (let l = 0; l < 32; l++) {
          const nib = part ? src[q + l]! >> 4 : src[q + l]! & 0xf;
          const high = five && src[o + 16 + l]! & bit ? 16 : 0;
          out[y++] = dl * (nib + high) - ml;
        }
      }
    }
  }
}

/** Per sub-block min/max scales (no error search as llama.cpp's quantizers do). */
export function quantizeK45(x: Float32Array, at: number, dv: DataView, o: number, out: Uint8Array, five: boolean): void {
  const levels = five ? 31 : 15;
  const { scale, min } = subScalesWithMin(x, at, 8, 32, levels);
  const d = putHalf(dv, o, Math.max(...scale) / 63);
  const dmin = putHalf(dv, o + 2, Math.max(...min) / 63);
  const qsAt = five ? 48 : 16;
  for (let s = 0; s < 8; s++) {
    const sc = d ? clamp(Math.round(scale[s]! / d), 0, 63) : 0;
    const mn = dmin ? clamp(Math.round(min[s]! / dmin), 0, 63) : 0;
    const sAt = o + 4;
    if (s < 4) {
      out[sAt + s] |= sc;
      out[sAt + s + 4] |= mn;
    } else {
      out[sAt + s + 4] = (sc & 0xf) | ((mn & 0xf) << 4);
      out[sAt + s - 4] |= (sc >> 4) << 6;
      out[sAt + s] |= (mn >> 4) << 6;
    }
    const j = s >> 1;
    for (let l = 0; l < 32; l++) {
      const v = x[at + s * 32 + l]!;
      const q = sc ? clamp(Math.round((v + dmin * mn) / (d * sc)), 0, levels) : 0;
      out[o + qsAt + j * 32 + l] |= (q & 0xf) << (s & 1 ? 4 : 0);
      if (five && q >> 4) out[o + 16 + l] |= 1 << s;
    }
  }
}

/** WGSL of Q4_K/Q5_K: the shared 6-bit scale/min unpacking, then the format's piece. */
export const kQuantWgsl = (piece: string): string => blockWgsl(kScales, piece);

/**
 * q4_k (ggml Q4_K): super-blocks of 256 values, 144 bytes (36 words, all aligned): f16 d and
 * dmin, 12 bytes of 6-bit sub-block scales and mins, 128 bytes of nibbles. Held as stored.
 */
export const q4_k: FormatSpec = {
  name: 'q4_k',
  ggml: 'Q4_K',
  block: 256,
  bytes: 144,
  gpu: { words: 36, scaleAt: null },
  wgslWords: 1,
  wgsl: kQuantWgsl(wgsl),
  intDot: true,
  masked: true,
  dequantize: (src, dv, out, blocks) => dequantizeK45(src, dv, out, blocks, false),
  quantizeBlock: (x, at, dv, o, out) => quantizeK45(x, at, dv, o, out, false),
};
