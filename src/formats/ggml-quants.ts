/**
 * Dequantizers for the ggml block types Hearth reads from GGUF files but does not keep on the GPU
 * as they are: the legacy Q4_1/Q5_0/Q5_1, the k-quants Q2_K..Q6_K (256-value super-blocks with
 * 6- or 8-bit sub-block scales) and IQ4_NL/IQ4_XS (a fixed non-uniform 4-bit grid). The loader
 * turns each tensor into f32 values with these, one tensor at a time, and re-encodes it in a GPU
 * format (q8_0 unless the caller asked for another; see models/load.ts).
 *
 * Block layouts follow ggml's `block_*` structs (ggml-common.h); values come out in the order
 * ggml's `dequantize_row_*` writes them. Every function takes the native bytes of `count`
 * values (a whole number of blocks) and returns them as f32.
 */
import { f16BitsToF32 } from '../util/f16.js';

/** ggml's block types that Hearth converts at load. */
export type GgmlConvertedType = 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q2_K' | 'Q3_K' | 'Q4_K' | 'Q5_K' | 'Q6_K' | 'IQ4_NL' | 'IQ4_XS';

/** Values per block and bytes per block of each type. */
export const GGML_CONVERTED_LAYOUT: Readonly<Record<GgmlConvertedType, { block: number; bytes: number }>> = {
  Q4_1: { block: 32, bytes: 20 },
  Q5_0: { block: 32, bytes: 22 },
  Q5_1: { block: 32, bytes: 24 },
  Q2_K: { block: 256, bytes: 84 },
  Q3_K: { block: 256, bytes: 110 },
  Q4_K: { block: 256, bytes: 144 },
  Q5_K: { block: 256, bytes: 176 },
  Q6_K: { block: 256, bytes: 210 },
  IQ4_NL: { block: 32, bytes: 18 },
  IQ4_XS: { block: 256, bytes: 136 },
};

/** The 16 levels of IQ4_NL and IQ4_XS (ggml's kvalues_iq4nl). */
const IQ4_LEVELS = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113] as const;

type Dequant = (src: Uint8Array, dv: DataView, out: Float32Array, blocks: number) => void;

const half = (dv: DataView, o: number) => f16BitsToF32(dv.getUint16(o, true));

/** x = d * q + m; q: low nibbles are values 0..15, high nibbles 16..31. */
const q4_1: Dequant = (src, dv, out, blocks) => {
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
};

/** 5-bit values: a nibble plus one bit of a 32-bit mask (bit j for value j). */
function q5(src: Uint8Array, dv: DataView, out: Float32Array, blocks: number, withMin: boolean): void {
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

/** Scale and min j (0..7) of a Q4_K/Q5_K block: six bits each, packed in 12 bytes at `at`. */
function scaleMinK4(src: Uint8Array, at: number, j: number): [number, number] {
  if (j < 4) return [src[at + j]! & 63, src[at + j + 4]! & 63];
  return [(src[at + j + 4]! & 0xf) | ((src[at + j - 4]! >> 6) << 4), (src[at + j + 4]! >> 4) | ((src[at + j]! >> 6) << 4)];
}

/**
 * Q4_K and Q5_K: d, dmin, scales[12], (Q5_K: qh[32]), qs[128]. Each 64 values share 32 bytes of
 * qs: low nibbles then high nibbles, with sub-block scales/mins 2i and 2i+1. Q5_K's fifth bit of
 * value l in sub-block s is bit s of qh[l].
 */
function qK45(src: Uint8Array, dv: DataView, out: Float32Array, blocks: number, five: boolean): void {
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

/**
 * Q6_K: ql[128] (low nibbles), qh[64] (high two bits), scales[16] (int8), d. Each 128 values use
 * 64 bytes of ql and 32 of qh; value = d * scale * (q6 - 32).
 */
const q6_K: Dequant = (src, dv, out, blocks) => {
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

const DEQUANT: Readonly<Record<GgmlConvertedType, Dequant>> = {
  Q4_1: q4_1,
  Q5_0: (s, dv, o, n) => q5(s, dv, o, n, false),
  Q5_1: (s, dv, o, n) => q5(s, dv, o, n, true),
  Q2_K: q2_K,
  Q3_K: q3_K,
  Q4_K: (s, dv, o, n) => qK45(s, dv, o, n, false),
  Q5_K: (s, dv, o, n) => qK45(s, dv, o, n, true),
  Q6_K: q6_K,
  IQ4_NL: iq4_nl,
  IQ4_XS: iq4_xs,
};

export function isGgmlConvertedType(s: string): s is GgmlConvertedType {
  return s in GGML_CONVERTED_LAYOUT;
}

/** `count` values of `type` from their native bytes (count a whole number of blocks). */
export function dequantizeGgml(type: GgmlConvertedType, src: Uint8Array, count: number): Float32Array {
  const { block, bytes } = GGML_CONVERTED_LAYOUT[type];
  if (count % block !== 0) throw new Error(`${type} needs a multiple of ${block} values, got ${count}`);
  const blocks = count / block;
  if (src.byteLength < blocks * bytes) throw new Error(`${type}: ${count} values need ${blocks * bytes} bytes, got ${src.byteLength}`);
  const out = new Float32Array(count);
  DEQUANT[type](src, new DataView(src.buffer, src.byteOffset, src.byteLength), out, blocks);
  return out;
}
