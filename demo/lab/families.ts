import type { LabFamily } from '../../src/lab/types.js';

/** Display names and chart colours per kernel family. */
export const FAMILY_NAMES: Record<LabFamily, string> = {
  gemv: 'GEMV',
  gemm: 'GEMM',
  'attention-prefill': 'Attention prefill',
  'attention-decode': 'Attention decode',
  rmsnorm: 'RMSNorm',
  rope: 'RoPE',
  silu_mul: 'SiLU × up',
  softmax: 'Softmax',
  embed: 'Embedding',
  layernorm: 'LayerNorm',
  gelu: 'GELU',
  conv1d: 'Conv1d',
  add_rows: 'Add rows',
  attention_full: 'Attention (full)',
};

/** Distinguishable in light and dark themes, and for the commonest colour-vision deficiencies. */
export const FAMILY_COLORS: Record<LabFamily, string> = {
  gemv: '#e8590c',
  gemm: '#1c7ed6',
  'attention-prefill': '#7048e8',
  'attention-decode': '#c2255c',
  rmsnorm: '#2b8a3e',
  rope: '#0c8599',
  silu_mul: '#e67700',
  softmax: '#5c940d',
  embed: '#868e96',
  layernorm: '#087f5b',
  gelu: '#d6336c',
  conv1d: '#364fc7',
  add_rows: '#a61e4d',
  attention_full: '#9c36b5',
};
