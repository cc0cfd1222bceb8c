/**
 * Dequantizers for the ggml block types whose values the kernels do not read as stored: Q5_1,
 * Q2_K, Q3_K, IQ4_NL and IQ4_XS. The loader turns each such tensor into f32 values, a row span at
 * a time, and re-encodes it in a GPU format (q8_0 unless the caller asked for another; see
 * models/load.ts). Values come out in the order ggml's `dequantize_row_*` writes them.
 */
import { GGML_CONVERTED_LAYOUT, type GgmlConvertedType } from '../formats/ggml-quants.js';
import { dequantize5 } from './q5_0.js';
import { half } from './spec.js';

/** The 16 levels of IQ4_NL and IQ4_XS (ggml's kvalues_iq4nl). */
const IQ4_LEVELS = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113] as const;

type Dequant = (src: Uint8Array, dv: DataView, out: Float32Array, blocks: number) => void;

/**
 * Q2_K: scales[16] (low nibble scale, high nibble min), qs[64] (2-bit values), d, dmin.
 * Each 128-value half reads 32 bytes of qs four times, two bits deeper each time.
 */
const q2_K: Dequant = (src, dv, out, blocks) => {
  for (let b = 0; b < blocks; b++) {
    const o = b * 84;
    const d = half(dv, o + 80);
    const dmin = half(dv, o + 82);
    let y = b * 256;
    let is = 0;
    for (let n = 0; n < 2; n++) {
      const q = o + 16 + n * 32;
      for (let shift = 0; shift < 8; shift += 2) {
        for (let part = 0; part < 2; part++) {
          const sc = src[o + is++]!;
          const dl = d * (sc & 0xf);
          const ml = dmin * (sc >> 4);
          for (let l = 0; l < 16; l++) out[y++] = dl * ((src[q + part * 16 + l]! >> shift) & 3) - ml;
        }
      }
    }
  }
};

/** The 16 signed 6-bit scales of a Q3_K block, unpacked from its 12 bytes. */
function q3Scales(src: Uint8Array, at: number, into: Int8Array): void {
  for (let i = 0; i < 16; i++) {
    const low = i < 8 ? src[at + i]! & 0xf : src[at + i - 8]! >> 4;
    const high = (src[at + 8 + (i % 4)]! >> (2 * Math.floor(i / 4))) & 3;
    into[i] = (low | (high << 4)) - 32;
  }
}

/**
 * Q3_K: hmask[32] (third bit, set = no offset), qs[64] (low two bits), scales[12] (16 six-bit
 * scales, offset 32), d. value = d * scale * (low2 - (high bit ? 0 : 4)).
 */
const q3_K: Dequant = (src, dv, out, blocks) => {
  const scales = new Int8Array(16);
  for (let b = 0; b < blocks; b++) {
    const o = b * 110;
    const d = half(dv, o + 108);
    q3Scales(src, o + 96, scales);
    let y = b * 256;
    let is = 0;
    let m = 1;
    for (let n = 0; n < 2; n++) {
      const q = o + 32 + n * 32;
      for (let shift = 0; shift < 8; shift += 2) {
        for (let part = 0; part < 2; part++) {
          const dl = d * scales[is++]!;
          for (let l = 0; l < 16; l++) {
            const i = part * 16 + l;
            const low = (src[q + i]! >> shift) & 3;
            out[y++] = dl * (low - (src[o + i]! & m ? 0 : 4));
          }
        }
        m <<= 1;
      }
    }
  }
};

/** IQ4_NL: d, qs[16]; value = d * level[nibble], low nibbles first. */
const iq4_nl: Dequant = (src, dv, out, blocks) => {
  for (let b = 0; b < blocks; b++) {
    const o = b * 18;
    const d = half(dv, o);
    const y = b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[o + 2 + j]!;
      out[y + j] = d * IQ4_LEVELS[q & 0xf]!;
      out[y + j + 16] = d * IQ4_LEVELS[q >> 4]!;
    }
  }
};

/**
 * IQ4_XS: d, scales_h (u16: two high bits per sub-block), scales_l[4] (a nibble per sub-block),
 * qs[128]; eight 32-value sub-blocks with 6-bit scales offset by 32, IQ4_NL's levels.
 */
const iq4_xs: Dequant = (src, dv, out, blocks) => {
  for (let b = 0; b < blocks; b++) {
    const o = b * 136;
    const d = half(dv, o);
    const scalesH = dv.getUint16(o + 2, true);
    for (let ib = 0; ib < 8; ib++) {
      const ls = ((src[o + 4 + (ib >> 1)]! >> (4 * (ib & 1))) & 0xf) | (((scalesH >> (2 * ib)) & 3) << 4);
      const dl = d * (ls - 32);
      const q = o + 8 + ib * 16;
      const y = b * 256 + ib * 32;
      for (let j = 0; j < 16; j++) {
        out[y + j] = dl * IQ4_LEVELS[src[q + j]! & 0xf]!;
        out[y + j + 16] = dl * IQ4_LEVELS[src[q + j]! >> 4]!;
      }
    }
  }
};

/** ggml's block types the kernels do not read: widened at load. */
export type WidenedType = 'Q5_1' | 'Q2_K' | 'Q3_K' | 'IQ4_NL' | 'IQ4_XS';

export const WIDENED_DEQUANT: Readonly<Record<WidenedType, Dequant>> = {
  Q5_1: (s, dv, o, n) => dequantize5(s, dv, o, n, true),
  Q2_K: q2_K,
  Q3_K: q3_K,
  IQ4_NL: iq4_nl,
  IQ4_XS: iq4_xs,
};

export function isWidenedType(t: GgmlConvertedType): t is WidenedType {
  return t in WIDENED_DEQUANT;
}

/** Check that `count` values of a block type fill whole blocks and `src` holds them; returns the block count. */
export function blocksOf(type: GgmlConvertedType, src: Uint8Array, count: number): number {
  const { block, bytes } = GGML_CONVERTED_LAYOUT[type];
  if (count % block !== 0) throw new Error(`${type} needs a multiple of ${block} values, got ${count}`);
  const blocks = count / block;
  if (src.byteLength < blocks * bytes) throw new Error(`${type}: ${count} values need ${blocks * bytes} bytes, got ${src.byteLength}`);
  return blocks;
}
