import { HearthError } from '../errors.js';
import { FORMATS, nativeByteLength } from '../quant/formats.js';
import type { LabCase } from './types.js';

/** The variant, format and shape columns of a case's row. */
export function describeCase(c: LabCase): { variant: string; format: string; shape: string } {
  switch (c.family) {
    case 'gemv':
      return { variant: c.variant, format: c.format, shape: `${c.n}×${c.k}` };
    case 'gemm':
      return { variant: c.variant, format: c.format, shape: `${c.m}×${c.n}×${c.k}` };
    case 'attention-prefill':
      return { variant: 'flash', format: 'f32', shape: `h${c.nHeads}/${c.nKvHeads} d${c.headDim} T${c.tokens} L${c.pos + c.tokens}` };
    case 'attention-decode':
      return { variant: 'split-k', format: 'f32', shape: `h${c.nHeads}/${c.nKvHeads} d${c.headDim} L${c.kvLen}` };
    case 'rmsnorm':
      return { variant: c.residual ? 'fused residual' : 'plain', format: 'f32', shape: `${c.rows}×${c.cols}` };
    case 'rope':
      return { variant: c.style === 'half' ? 'rotate-half' : 'interleaved', format: 'f32', shape: `${c.tokens}×${c.nHeads}×${c.headDim} @${c.pos}` };
    case 'silu_mul':
      return { variant: 'fused', format: 'f32', shape: `${c.tokens}×${c.n}` };
    case 'softmax':
      return { variant: 'online', format: 'f32', shape: `${c.rows}×${c.cols}` };
    case 'embed':
      return { variant: 'gather', format: c.format, shape: `${c.tokens} of ${c.vocab}×${c.cols}` };
    case 'layernorm':
      return { variant: 'plain', format: 'f32', shape: `${c.rows}×${c.cols}` };
    case 'gelu':
      return { variant: 'erf', format: 'f32', shape: `${c.tokens}×${c.n}` };
    case 'conv1d':
      return { variant: c.variant, format: 'f32', shape: `T${c.tIn} ${c.cIn}→${c.cOut} /${c.stride}` };
    case 'add_rows':
      return { variant: 'in place', format: 'f32', shape: `${c.tokens}×${c.n} @${c.pos} of ${c.rows}` };
    case 'attention_full':
      return { variant: c.method, format: 'f32', shape: `h${c.heads} d${c.headDim} T${c.tokens} L${c.kvLen}` };
  }
}

/** Bytes of the largest host-side array a case builds: the page refuses what would not fit. */
export function caseHostBytes(c: LabCase): number {
  switch (c.family) {
    case 'gemv':
    case 'gemm':
      return nativeByteLength(c.format, c.n, c.k);
    case 'embed':
      return nativeByteLength(c.format, c.vocab, c.cols);
    case 'attention-prefill':
      return c.nKvHeads * (c.pos + c.tokens) * c.headDim * 4;
    case 'attention-decode':
      return c.nKvHeads * c.kvLen * c.headDim * 4;
    case 'rmsnorm':
    case 'softmax':
      return c.rows * c.cols * 4;
    case 'rope':
      return c.tokens * c.nHeads * c.headDim * 4;
    case 'silu_mul':
      return c.tokens * c.n * 4;
    case 'layernorm':
      return c.rows * c.cols * 4;
    case 'gelu':
      return c.tokens * c.n * 4;
    case 'conv1d':
      return Math.max(c.tIn * c.cIn, c.cOut * c.cIn * 3, (Math.floor((c.tIn - 1) / c.stride) + 1) * Math.max(c.cOut, c.cIn * 3)) * 4;
    case 'add_rows':
      return Math.max(c.tokens, c.rows) * c.n * 4;
    case 'attention_full':
      return Math.max(c.tokens, c.kvLen) * c.heads * c.headDim * 4 + (c.method === 'matmul' ? c.kvLen * c.kvLen * 4 : 0);
  }
}

const positive = (v: number) => Number.isInteger(v) && v >= 1;

/** Throws INVALID_ARGUMENT, saying what to change, when a (user-typed) case cannot run. */
export function validateCase(c: LabCase): void {
  const bad = (what: string): never => {
    throw new HearthError('INVALID_ARGUMENT', `${c.family} ${describeCase(c).shape}: ${what}`);
  };
  const dims = Object.entries(c).filter(([key, v]) => typeof v === 'number' && key !== 'theta' && key !== 'pos');
  for (const [key, v] of dims) if (!positive(v as number)) bad(`${key} must be a positive integer.`);
  switch (c.family) {
    case 'gemv':
    case 'gemm':
      if (c.k % FORMATS[c.format].block) bad(`K must be a multiple of ${FORMATS[c.format].block} for ${c.format}.`);
      if (c.family === 'gemm' && c.m < 2) bad('a GEMM needs M of at least 2 (M = 1 is the GEMV).');
      break;
    case 'embed':
      if (c.cols % FORMATS[c.format].block) bad(`the row length must be a multiple of ${FORMATS[c.format].block} for ${c.format}.`);
      break;
    case 'attention-prefill':
    case 'attention-decode':
      if (c.nHeads % c.nKvHeads) bad('heads must be a multiple of KV heads.');
      if (c.headDim % 4 || c.headDim > 256) bad('head size must be a multiple of 4, at most 256.');
      if (c.family === 'attention-prefill' && !(Number.isInteger(c.pos) && c.pos >= 0)) bad('the start position must be 0 or more.');
      if (c.family === 'attention-prefill' && c.tokens < 2) bad('prefill needs at least 2 tokens (1 token is decode).');
      break;
    case 'rope':
      if (c.headDim % 2) bad('head size must be even.');
      if (!(Number.isInteger(c.pos) && c.pos >= 0)) bad('the start position must be 0 or more.');
      if (!(c.theta > 0)) bad('theta must be positive.');
      break;
    case 'conv1d':
      if (c.stride !== 1 && c.stride !== 2) bad('stride must be 1 or 2 (Whisper uses both).');
      break;
    case 'add_rows':
      if (!(Number.isInteger(c.pos) && c.pos >= 0)) bad('the start position must be 0 or more.');
      if (c.pos + c.tokens > c.rows) bad(`positions ${c.pos}..${c.pos + c.tokens - 1} run past the table's ${c.rows} rows.`);
      break;
    case 'attention_full':
      if (c.headDim % 4 || c.headDim > 256) bad('head size must be a multiple of 4, at most 256.');
      if (c.method === 'matmul' && c.tokens !== c.kvLen) bad('the matmul method is self-attention: queries must equal keys (tokens = KV length).');
      if (c.method !== 'matmul' && c.method !== 'direct') bad("the method must be 'direct' or 'matmul'.");
      break;
    default:
      break;
  }
}
