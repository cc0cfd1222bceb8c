/**
 * ggml block types converted at load (Q4_1, Q5_0, Q5_1, Q2_K..Q6_K, IQ4_NL, IQ4_XS):
 *  - blocks written by hand from ggml's struct layouts decode to the values worked out by hand;
 *  - random rows encoded and decoded come back within each type's rounding step, and the error
 *    shrinks as bits grow (which catches a bit placed in the wrong value: it would be far off);
 *  - the loader turns such GGUF matrices into q8_0 (or what was asked) one row span at a time.
 * That these layouts are llama.cpp's own is checked against llama.cpp itself (wllama) in
 * test/browser/llama-cpp-parity.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { GGML_CONVERTED_LAYOUT, type GgmlConvertedType } from '../../src/formats/ggml-quants.js';
import { f32ToF16Bits } from '../../src/util/f16.js';
import { dequantize, dequantizeGgml } from '../../src/quant/formats.js';
import { convertMatrix, defaultGpuFormat } from '../../src/models/load.js';
import type { TensorInfo } from '../../src/formats/tensors.js';
import { encodeGgml } from '../fixtures/ggml-encode.js';
import { rng } from '../helpers/random.js';

const TYPES = Object.keys(GGML_CONVERTED_LAYOUT) as GgmlConvertedType[];
const H1 = f32ToF16Bits(1);
const H_HALF = f32ToF16Bits(0.5);

function block(type: GgmlConvertedType, fill: (b: Uint8Array, dv: DataView) => void): Uint8Array {
  const b = new Uint8Array(GGML_CONVERTED_LAYOUT[type].bytes);
  fill(b, new DataView(b.buffer));
  return b;
}

describe('hand-made blocks', () => {
  it('Q4_1: d * nibble + m; low nibbles are values 0..15, high nibbles 16..31', () => {
    const b = block('Q4_1', (b, dv) => {
      dv.setUint16(0, H_HALF, true);
      dv.setUint16(2, f32ToF16Bits(-1), true);
      b[4] = 0x3a; // value 0: 10, value 16: 3
    });
    const y = dequantizeGgml('Q4_1', b, 32);
    expect([y[0], y[16], y[1]]).toEqual([4, 0.5, -1]);
  });

  it('Q5_0 and Q5_1: the fifth bit of value j is bit j of qh', () => {
    const b = block('Q5_0', (b, dv) => {
      dv.setUint16(0, H1, true);
      dv.setUint32(2, (1 << 0) | (1 << 17), true); // high bits of values 0 and 17
      b[6] = 0x21; // value 0: 1, value 16: 2
      b[7] = 0x43; // value 1: 3, value 17: 4
    });
    const y = dequantizeGgml('Q5_0', b, 32);
    expect([y[0], y[16], y[1], y[17], y[2]]).toEqual([17 - 16, 2 - 16, 3 - 16, 20 - 16, -16]);
    const b1 = block('Q5_1', (b, dv) => {
      dv.setUint16(0, H1, true);
      dv.setUint16(2, f32ToF16Bits(0.25), true);
      dv.setUint32(4, 1 << 31, true); // high bit of value 31
      b[8 + 15] = 0xf0; // value 31: 15
    });
    const y1 = dequantizeGgml('Q5_1', b1, 32);
    expect([y1[31], y1[0]]).toEqual([31.25, 0.25]);
  });

  it('Q4_K: 6-bit scales/mins packed in 12 bytes, 64 values per 32 bytes of nibbles', () => {
    const b = block('Q4_K', (b, dv) => {
      dv.setUint16(0, H1, true); // d
      dv.setUint16(2, H_HALF, true); // dmin
      b[4 + 0] = 2; // scale 0
      b[4 + 4] = 4; // min 0
      b[4 + 1] = 3; // scale 1
      b[4 + 5] = 0; // min 1
      // scale 7 = 0x25 (low nibble 5 in byte 11, high bits 2 in byte 3 bits 6..7); min 7 = 0x11
      b[4 + 11] = 0x5 | (0x1 << 4);
      b[4 + 3] |= 0x2 << 6;
      b[4 + 7] |= 0x1 << 6;
      b[16 + 0] = 0x73; // value 0 (sub-block 0): 3, value 32 (sub-block 1): 7
      b[16 + 96 + 31] = 0x90; // value 255 (sub-block 7, high nibble): 9
    });
    const y = dequantizeGgml('Q4_K', b, 256);
    expect(y[0]).toBe(2 * 3 - 0.5 * 4);
    expect(y[32]).toBe(3 * 7);
    expect(y[255]).toBe(0x25 * 9 - 0.5 * 0x11);
  });

  it('Q5_K: the fifth bit of value l in sub-block s is bit s of qh[l]', () => {
    const b = block('Q5_K', (b, dv) => {
      dv.setUint16(0, H1, true);
      b[4 + 0] = 1; // scale 0
      b[4 + 1] = 1; // scale 1
      b[16 + 5] = 0b10; // qh[5]: bit 1 -> value 32 + 5 gets +16
      b[48 + 5] = 0x20; // value 5: 0, value 37: 2
    });
    const y = dequantizeGgml('Q5_K', b, 256);
    expect([y[5], y[37]]).toEqual([0, 18]);
  });

  it('Q6_K: ql/qh split four ways per 128 values, int8 scales, offset 32', () => {
    const b = block('Q6_K', (b, dv) => {
      for (let s = 0; s < 16; s++) dv.setInt8(192 + s, s === 6 ? -2 : 1);
      dv.setUint16(208, H1, true);
      b[0] = 0x21; // value 0: low 1, value 64: low 2
      b[128] = 0b01_00_00_11; // qh[0]: value 0 +48, value 96 +16
      b[32 + 31] = 0xf0; // value 127 (quarter 3, lane 31): low 15
    });
    const y = dequantizeGgml('Q6_K', b, 256);
    expect(y[0]).toBe(1 + 48 - 32);
    expect(y[64]).toBe(2 - 32);
    expect(y[96]).toBe(-2 * (16 - 32)); // value 96: scale 6
    expect(y[127]).toBe(15 - 32); // sub-block 7
    expect(y[1]).toBe(-32);
  });

  it('Q2_K and Q3_K: 2-bit values four deep per byte; Q3_K subtracts 4 unless its hmask bit is set', () => {
    const b2 = block('Q2_K', (b, dv) => {
      b[0] = 0x21; // sub-block 0: scale 1, min 2
      b[2] = 0x03; // sub-block 2 (values 32..47): scale 3
      b[16] = 0b0000_10_11; // value 0: 3, value 32: 2
      dv.setUint16(80, H1, true);
      dv.setUint16(82, H_HALF, true);
    });
    const y2 = dequantizeGgml('Q2_K', b2, 256);
    expect([y2[0], y2[32], y2[16]]).toEqual([3 - 1, 6, 0]);
    const b3 = block('Q3_K', (b, dv) => {
      b[96 + 0] = 0x1; // scale 0 low nibble 1; high bits 0 -> 1 - 32 = -31
      b[96 + 8] = 0x2; // scale 0 high pair 2 -> (1 | 32) - 32 = 1
      b[96 + 0] |= 0x30; // scale 8: low nibble 3 -> 3 - 32 = -29
      b[32] = 0b01; // value 0: 1
      b[0] = 0b1; // hmask: value 0 keeps its 1
      b[64] = 0b10; // second half (n = 1), shift 0 -> value 128 (scale 8): 2, hmask bit 4 unset -> 2 - 4
      dv.setUint16(108, H1, true);
    });
    const y3 = dequantizeGgml('Q3_K', b3, 256);
    expect(y3[0]).toBe(1);
    expect(y3[1]).toBe(-4);
    expect(y3[128]).toBe(-29 * (2 - 4));
  });

  it('IQ4_NL and IQ4_XS: the non-uniform 4-bit levels, IQ4_XS with 6-bit sub-block scales', () => {
    const nl = block('IQ4_NL', (b, dv) => {
      dv.setUint16(0, H_HALF, true);
      b[2] = 0xf0; // value 0: level 0 (-127), value 16: level 15 (113)
    });
    const y = dequantizeGgml('IQ4_NL', nl, 32);
    expect([y[0], y[16]]).toEqual([-63.5, 56.5]);
    const xs = block('IQ4_XS', (b, dv) => {
      dv.setUint16(0, H1, true);
      dv.setUint16(2, 0b10 << 2, true); // sub-block 1 high bits 2
      b[4] = 0x1 << 4; // sub-block 1 low nibble 1 -> 33 - 32 = 1
      b[8 + 16] = 0x08; // value 32: level 8 (1)
      b[8 + 16 + 1] = 0x0f; // value 33: level 15 (113)
    });
    const y2 = dequantizeGgml('IQ4_XS', xs, 256);
    expect([y2[32], y2[33]]).toEqual([1, 113]);
    expect(y2[0]).toBe(-32 * -127); // sub-block 0: scale 0 - 32, level 0
  });
});

describe('encode and decode', () => {
  // worst error as a fraction of the block's largest value, and the RMS ranking it implies
  const BOUND: Record<GgmlConvertedType, number> = { Q2_K: 0.45, Q3_K: 0.3, IQ4_NL: 0.12, IQ4_XS: 0.15, Q4_1: 0.1, Q4_K: 0.12, Q5_0: 0.05, Q5_1: 0.05, Q5_K: 0.06, Q6_K: 0.04 };
  for (const type of TYPES) {
    it(`${type}: random rows come back within its rounding step`, () => {
      const { block } = GGML_CONVERTED_LAYOUT[type];
      const r = rng(type.length * 31 + block);
      const rows = 7;
      const cols = block * 3;
      const x = new Float32Array(rows * cols);
      for (let i = 0; i < x.length; i++) x[i] = (r() * 2 - 1) * (1 + (i % 97) / 10) + (i % 5 === 0 ? 0.3 : 0);
      const bytes = encodeGgml(type, x);
      expect(bytes.byteLength).toBe((x.length / block) * GGML_CONVERTED_LAYOUT[type].bytes);
      const y = dequantizeGgml(type, bytes, x.length);
      for (let b = 0; b < x.length / block; b++) {
        let amax = 0;
        let err = 0;
        for (let i = b * block; i < (b + 1) * block; i++) {
          amax = Math.max(amax, Math.abs(x[i]!));
          err = Math.max(err, Math.abs(x[i]! - y[i]!));
        }
        expect(err / amax, `${type} block ${b}`).toBeLessThan(BOUND[type]);
      }
    });
  }

  it('more bits, less error: Q2_K > Q3_K > Q4_K > Q5_K > Q6_K', () => {
    const r = rng(5);
    const x = Float32Array.from({ length: 256 * 16 }, () => r() * 2 - 1);
    const rms = (t: GgmlConvertedType) => {
      const y = dequantizeGgml(t, encodeGgml(t, x), x.length);
      let s = 0;
      for (let i = 0; i < x.length; i++) s += (x[i]! - y[i]!) ** 2;
      return Math.sqrt(s / x.length);
    };
    const e = (['Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K'] as const).map(rms);
    for (let i = 1; i < e.length; i++) expect(e[i]!).toBeLessThan(e[i - 1]! * 0.75);
  });

  it('refuses a count that is not whole blocks, or too few bytes', () => {
    expect(() => dequantizeGgml('Q4_K', new Uint8Array(144), 128)).toThrow(/multiple of 256/);
    expect(() => dequantizeGgml('Q6_K', new Uint8Array(100), 256)).toThrow(/need 210 bytes/);
  });
});

describe('conversion at load', () => {
  const info = (dtype: GgmlConvertedType, rows: number, cols: number): TensorInfo => ({ name: 'layers.0.q', sourceName: 'blk.0.attn_q.weight', file: 'm.gguf', offset: 0, byteLength: 0, dtype, shape: [rows, cols] });

  it('the types the kernels read stay as they are by default, the others go to q8_0', () => {
    const native: Partial<Record<GgmlConvertedType, string>> = { Q4_1: 'q4_1', Q5_0: 'q5_0', Q4_K: 'q4_k', Q5_K: 'q5_k', Q6_K: 'q6_k' };
    for (const t of TYPES) expect(defaultGpuFormat(t)).toBe(native[t] ?? 'q8_0');
    expect(defaultGpuFormat('Q4_0')).toBe('q4_0');
    expect(defaultGpuFormat('Q8_0')).toBe('q8_0');
    expect(defaultGpuFormat('BF16')).toBe('f16');
  });

  it('converts in row spans that give the same bytes as converting the whole tensor at once', () => {
    // 4100 rows of 256: more than one 1M-value span, and a ragged last span
    const rows = 4100;
    const cols = 256;
    const r = rng(9);
    const x = Float32Array.from({ length: rows * cols }, () => r() * 2 - 1);
    const q = encodeGgml('Q4_K', x);
    const want = dequantizeGgml('Q4_K', q, x.length);
    for (const target of ['q8_0', 'q4_0', 'f16'] as const) {
      const { format, data } = convertMatrix(info('Q4_K', rows, cols), q, target);
      expect(format).toBe(target);
      const got = dequantize(format, data, x.length);
      let worst = 0;
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      // q4_0 rounds again (a 4-bit step of the block's largest value); q8_0/f16 barely move
      expect(worst).toBeLessThan(target === 'q4_0' ? 0.2 : 0.01);
    }
    // as stored by default: the same bytes
    const q6 = encodeGgml('Q6_K', x.subarray(0, 1536));
    expect(convertMatrix(info('Q6_K', 3, 512), q6, undefined)).toEqual({ format: 'q6_k', data: q6 });
    const { format, data } = convertMatrix(info('Q3_K', 3, 512), encodeGgml('Q3_K', x.subarray(0, 1536)), undefined);
    expect(format).toBe('q8_0');
    expect(data.byteLength).toBe(3 * (512 / 32) * 34);
  });
});
