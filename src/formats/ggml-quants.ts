/**
 * The ggml block types GGUF files hold beyond F32/F16/Q8_0/Q4_0: the legacy Q4_1/Q5_0/Q5_1, the
 * k-quants Q2_K..Q6_K (256-value super-blocks with 6- or 8-bit sub-block scales) and
 * IQ4_NL/IQ4_XS (a fixed non-uniform 4-bit grid): their block geometry, which is all the file
 * reader needs. Decoding them is src/quant's: the formats the kernels read as stored (Q4_1, Q5_0,
 * Q4_K, Q5_K, Q6_K) each have a module there, the rest are widened at load (quant/widened.ts).
 * Block layouts follow ggml's `block_*` structs (ggml-common.h).
 */

/** ggml's block types past the four plain ones. */
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

export function isGgmlConvertedType(s: string): s is GgmlConvertedType {
  return s in GGML_CONVERTED_LAYOUT;
}
