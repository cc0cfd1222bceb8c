/**
 * What one weight format is, in one place: its GGUF block (values and bytes per block), how a
 * block is laid out on the GPU, its CPU quantize/dequantize (the reference and the test fixtures
 * use them) and its WGSL piece (shaders/weights_<name>.wgsl: the block's chunks with their scale
 * and min for the matmuls, packed int8 chunks for the integer dot products, one value for the
 * embedding lookup). src/quant/formats.ts is the registry of them.
 */
import bytesWgsl from '../../shaders/weights_bytes.wgsl?raw';
import int8x4Wgsl from '../../shaders/int8x4.wgsl?raw';
import splitScaleWgsl from '../../shaders/weights_split_scale.wgsl?raw';
import q4OrderWgsl from '../../shaders/weights_q4_order.wgsl?raw';
import blockScaleWgsl from '../../shaders/weights_block_scale.wgsl?raw';
import { f16BitsToF32, f32ToF16Bits } from '../util/f16.js';

/** The formats the GPU kernels read as they are stored. */
export type WeightFormat = 'f32' | 'f16' | 'q8_0' | 'q4_0' | 'q4_1' | 'q5_0' | 'q4_k' | 'q5_k' | 'q6_k';

export interface FormatSpec {
  readonly name: WeightFormat;
  /** The ggml/GGUF tensor type stored this way. */
  readonly ggml: 'F32' | 'F16' | 'Q8_0' | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q4_K' | 'Q5_K' | 'Q6_K';
  /** Values per block (1 for f32 and f16) and native (GGUF) bytes per block. */
  readonly block: number;
  readonly bytes: number;
  /**
   * GPU layout of a quantized block: `words` u32 words in the data buffer, which are the block's
   * native bytes less its f16 scale at byte `scaleAt` when that is not null; that scale goes to
   * the scales buffer (one f16 per block, two per word). A block whose size is not a whole number
   * of words is split this way so every load is aligned and the GPU holds exactly the file's
   * bytes. Float formats (block 1) pad rows instead (src/gpu/weights.ts).
   */
  readonly gpu: {
    readonly words: number;
    readonly scaleAt: number | null;
    /** Rearranges the block at words[at..] in place after that split, where the kernels want another order (q5_0's fifth bits). */
    readonly block?: (words: Uint32Array, at: number) => void;
  };
  /** u32 words in one element of the WGSL piece's `w` array (vec4f: 4, vec2u: 2, u32: 1). */
  readonly wgslWords: number;
  /** The WGSL piece (src/kernels/matmul.ts and embed.ts compose it). */
  readonly wgsl: string;
  /** Whether the piece has `w_chunk_i8` (packed int8 chunks for dot4I8Packed). */
  readonly intDot: boolean;
  /**
   * Whether the piece has `w_chunk_masked` (values masked in their bit places: one AND and one
   * conversion each, what the CPU drivers' register GEMV reads); without it the matmul composes
   * shaders/weights_unmasked.wgsl.
   */
  readonly masked: boolean;
  /** Decode `blocks` blocks of native bytes into `out`. */
  dequantize(src: Uint8Array, dv: DataView, out: Float32Array, blocks: number): void;
  /** Encode the block of values at x[at..] into native bytes at out[o..] (zeroed beforehand). */
  quantizeBlock(x: Float32Array, at: number, dv: DataView, o: number, out: Uint8Array): void;
}

export const half = (dv: DataView, o: number): number => f16BitsToF32(dv.getUint16(o, true));

/** Store an f16 and return the value it rounds to, so later steps use what readers will see. */
export function putHalf(dv: DataView, at: number, v: number): number {
  const bits = f32ToF16Bits(v);
  dv.setUint16(at, bits, true);
  return f16BitsToF32(bits);
}

export const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, v));

/** Smallest, largest and largest magnitude of x[at .. at + n). */
export function range(x: Float32Array, at: number, n: number): { min: number; max: number; amax: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    min = Math.min(min, x[at + i]!);
    max = Math.max(max, x[at + i]!);
  }
  return { min, max, amax: Math.max(-min, max) };
}

/** Unsigned sub-block quantization with a min (Q2_K, Q4_K, Q5_K): scales and mins of `subs` sub-blocks of `size`. */
export function subScalesWithMin(x: Float32Array, at: number, subs: number, size: number, levels: number): { scale: number[]; min: number[] } {
  const scale: number[] = [];
  const min: number[] = [];
  for (let s = 0; s < subs; s++) {
    const r = range(x, at + s * size, size);
    const lo = Math.min(r.min, 0);
    scale.push((r.max - lo) / levels);
    min.push(-lo);
  }
  return { scale, min };
}

/** A block format's WGSL: the packed-byte helpers (shaders/int8x4.wgsl, weights_bytes.wgsl), then its pieces. */
export const blockWgsl = (...pieces: string[]): string => [int8x4Wgsl, bytesWgsl, ...pieces].join('\n');

/** Pieces some formats share: the split-off f16 block scales, q4_0's order of nibbles. */
export const SPLIT_SCALE_WGSL = splitScaleWgsl;
/** A split-off scale per 32-value block and no min (after SPLIT_SCALE_WGSL). */
export const BLOCK_SCALE_WGSL = blockScaleWgsl;
export const Q4_ORDER_WGSL = q4OrderWgsl;
