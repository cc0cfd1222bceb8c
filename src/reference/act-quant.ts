/**
 * Activation quantization as llama.cpp's CPU backend does it before every dot product with a
 * quantized weight: each block of a row becomes q * d with q an int8, and the dot product runs
 * on those values. Hearth computes the same values (kernels/quantize_act.ts) and multiplies them
 * with the weights in f32, which gives llama.cpp's sums up to summation order.
 *
 *  - q8_0 (ggml's quantize_row_q8_0; Q8_1 has the same values): blocks of 32, amax = max |x|,
 *    d = amax / 127, q = round(x / d) (0 where d = 0), d stored as f16: x' = q * f16(d).
 *  - q8_K (quantize_row_q8_K): blocks of 256, max = the value of largest magnitude (signed),
 *    iscale = -127 / max, q = min(127, round(iscale * x)), d = 1 / iscale as f32: x' = q * d.
 *
 * All arithmetic in f32, rounding half to even (ggml's nearest_int and its SIMD paths; WGSL's
 * round()). `trunc` rounds q toward zero instead, as ggml's wasm SIMD build does for q8_0/q8_1
 * (wasm_i32x4_trunc_sat_f32x4 without a prior rounding). `f32Scale` keeps q8_0's d in f32, as the
 * packed activations of the integer dot products do (kernels/quantize_act.ts packAct).
 */
import { ACT_BLOCK, type ActQuant } from '../quant/formats.js';
import { roundF16 } from '../util/f16.js';

const f = Math.fround;

/** Round half to even. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** `rows` rows of `cols` floats (cols a multiple of the block), each block replaced by q * d. */
export function quantizeActRef(x: Float32Array, rows: number, cols: number, kind: ActQuant, opts: { trunc?: boolean; f32Scale?: boolean } = {}): Float32Array {
  const B = ACT_BLOCK[kind];
  if (cols % B !== 0) throw new Error(`${kind} activations need rows of a multiple of ${B} values, got ${cols}`);
  const out = new Float32Array(rows * cols);
  for (let b = 0; b < (rows * cols) / B; b++) {
    const o = b * B;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < B; j++) {
      const v = x[o + j]!;
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    if (kind === 'q8_0') {
      const d = f(amax / 127);
      const id = d ? f(1 / d) : 0;
      const dh = opts.f32Scale ? d : roundF16(d);
      for (let j = 0; j < B; j++) {
        const s = f(x[o + j]! * id);
        out[o + j] = f((opts.trunc ? Math.trunc(s) : roundHalfEven(s)) * dh);
      }
    } else {
      if (amax === 0) continue;
      const iscale = f(-127 / max);
      const d = f(1 / iscale);
      for (let j = 0; j < B; j++) out[o + j] = f(Math.min(127, roundHalfEven(f(iscale * x[o + j]!))) * d);
    }
  }
  return out;
}
