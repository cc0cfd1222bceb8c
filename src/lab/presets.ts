import type { MatmulVariant } from '../kernels/matmul.js';
import type { WeightFormat } from '../quant/formats.js';
import { caseHostBytes } from './cases.js';
import type { LabCase, LabFamily } from './types.js';

/** The dimensions of a model that fix its kernels' shapes (from each model's config.json). */
export interface ModelShape {
  name: string;
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  ropeTheta: number;
}

export const MODELS: readonly ModelShape[] = [
  { name: 'SmolLM2-135M', hidden: 576, intermediate: 1536, heads: 9, kvHeads: 3, headDim: 64, vocab: 49152, ropeTheta: 100000 },
  { name: 'SmolLM2-360M', hidden: 960, intermediate: 2560, heads: 15, kvHeads: 5, headDim: 64, vocab: 49152, ropeTheta: 100000 },
  { name: 'Qwen2.5-0.5B', hidden: 896, intermediate: 4864, heads: 14, kvHeads: 2, headDim: 64, vocab: 151936, ropeTheta: 1000000 },
  { name: 'Llama-3.2-1B', hidden: 2048, intermediate: 8192, heads: 32, kvHeads: 8, headDim: 64, vocab: 128256, ropeTheta: 500000 },
];

/** Whisper's dimensions (its config.json: d_model, encoder heads, MLP, mel bins, positions). */
export interface WhisperShape {
  name: string;
  state: number;
  heads: number;
  mlp: number;
  mels: number;
  audioCtx: number;
  textCtx: number;
}

export const WHISPER_MODELS: readonly WhisperShape[] = [
  { name: 'Whisper-tiny', state: 384, heads: 6, mlp: 1536, mels: 80, audioCtx: 1500, textCtx: 448 },
  { name: 'Whisper-base', state: 512, heads: 8, mlp: 2048, mels: 80, audioCtx: 1500, textCtx: 448 },
];

export const FORMATS: readonly WeightFormat[] = ['f32', 'f16', 'q8_0', 'q4_0'];
export const VARIANTS: readonly MatmulVariant[] = ['tiled', 'register'];

/** Tokens of a prefill chunk (M of the preset GEMMs). */
export const PREFILL_TOKENS = 128;
export const PREFILL_LENGTHS = [128, 512, 2048];
export const DECODE_LENGTHS = [128, 512, 1024, 4096];
/**
 * Largest host array a preset case may build. Llama's 128256x2048 lm_head is 1 GB in f32: random
 * data that big (plus its upload copy) can take a tab down, so such cases are listed as skipped.
 */
export const MAX_PRESET_HOST_BYTES = 320e6;

export interface Preset {
  id: string;
  name: string;
  /** One line on what it runs and how long it takes. */
  note: string;
}

export const SMALL_PRESET: Preset = { id: 'small', name: 'Small shapes', note: 'Ragged shapes of every kernel: seconds even on a CPU driver (SwiftShader).' };

export const PRESETS: readonly Preset[] = [
  SMALL_PRESET,
  ...MODELS.map((m) => ({
    id: m.name,
    name: m.name,
    note: `${m.name}'s real shapes: hidden ${m.hidden}, MLP ${m.intermediate}, ${m.heads}/${m.kvHeads} heads of ${m.headDim}, vocabulary ${m.vocab}. For real GPUs: slow on a CPU driver.`,
  })),
  ...WHISPER_MODELS.map((m) => ({
    id: m.name,
    name: m.name,
    note: `${m.name}'s own kernels at its real shapes: a 30 s window is ${2 * m.audioCtx} mel frames, ${m.audioCtx} encoder positions of ${m.state}, ${m.heads} heads, MLP ${m.mlp}. The 1500×1500 attention is slow on a CPU driver.`,
  })),
];

export interface CaseFilter {
  families?: readonly LabFamily[];
  formats?: readonly WeightFormat[];
  variants?: readonly MatmulVariant[];
}

function smallCases(): LabCase[] {
  const cases: LabCase[] = [];
  for (const format of FORMATS) {
    for (const variant of VARIANTS) {
      cases.push({ family: 'gemv', label: 'small', format, variant, n: 200, k: 320 });
      cases.push({ family: 'gemm', label: 'small', format, variant, m: 7, n: 72, k: 96 });
    }
  }
  cases.push(
    { family: 'attention-prefill', label: 'small GQA 3', nHeads: 6, nKvHeads: 2, headDim: 64, tokens: 19, pos: 0 },
    { family: 'attention-prefill', label: 'small, continuing', nHeads: 4, nKvHeads: 1, headDim: 128, tokens: 9, pos: 40 },
    { family: 'attention-decode', label: 'small GQA 3', nHeads: 6, nKvHeads: 2, headDim: 64, kvLen: 100 },
    { family: 'attention-decode', label: 'small GQA 4', nHeads: 8, nKvHeads: 2, headDim: 128, kvLen: 300 },
    { family: 'rmsnorm', label: 'small', rows: 3, cols: 576, residual: false },
    { family: 'rmsnorm', label: 'small', rows: 5, cols: 200, residual: true },
    { family: 'rope', label: 'small', tokens: 5, nHeads: 9, headDim: 64, pos: 7, theta: 10000, style: 'half' },
    { family: 'rope', label: 'small', tokens: 3, nHeads: 4, headDim: 128, pos: 300, theta: 500000, style: 'interleaved' },
    { family: 'silu_mul', label: 'small', tokens: 3, n: 1536 },
    { family: 'softmax', label: 'small', rows: 2, cols: 1000 },
  );
  for (const format of FORMATS) cases.push({ family: 'embed', label: 'small', format, vocab: 1000, cols: 256, tokens: 5 });
  // Whisper's kernels at ragged small shapes
  cases.push(
    { family: 'layernorm', label: 'small', rows: 7, cols: 384 },
    { family: 'gelu', label: 'small', tokens: 5, n: 1536 },
    { family: 'add_rows', label: 'small', tokens: 3, n: 384, rows: 448, pos: 17 },
  );
  for (const variant of VARIANTS) {
    cases.push({ family: 'conv1d', label: 'small stem', variant, tIn: 50, cIn: 80, cOut: 64, stride: 1 });
    cases.push({ family: 'conv1d', label: 'small, stride 2', variant, tIn: 51, cIn: 64, cOut: 64, stride: 2 });
  }
  cases.push(
    { family: 'attention_full', label: 'small encoder', method: 'direct', heads: 6, headDim: 64, tokens: 37, kvLen: 37 },
    { family: 'attention_full', label: 'small encoder', method: 'matmul', heads: 6, headDim: 64, tokens: 37, kvLen: 37 },
    { family: 'attention_full', label: 'small cross', method: 'direct', heads: 4, headDim: 32, tokens: 2, kvLen: 75 },
  );
  return cases;
}

function modelCases(m: ModelShape): LabCase[] {
  const { name, hidden: h, intermediate: inter } = m;
  const kv = m.kvHeads * m.headDim;
  const matrices = [
    { what: 'q/o', n: h, k: h },
    { what: 'k/v', n: kv, k: h },
    { what: 'gate/up', n: inter, k: h },
    { what: 'down', n: h, k: inter },
    // the logits: only ever a GEMV (prefill computes the last token's alone)
    { what: 'lm_head', n: m.vocab, k: h, gemvOnly: true },
  ];
  const cases: LabCase[] = [];
  for (const { what, n, k, gemvOnly } of matrices) {
    for (const format of FORMATS) {
      for (const variant of VARIANTS) {
        cases.push({ family: 'gemv', label: `${name} ${what}`, format, variant, n, k });
        if (!gemvOnly) cases.push({ family: 'gemm', label: `${name} ${what}`, format, variant, m: PREFILL_TOKENS, n, k });
      }
    }
  }
  const heads = { nHeads: m.heads, nKvHeads: m.kvHeads, headDim: m.headDim };
  for (const tokens of PREFILL_LENGTHS) cases.push({ family: 'attention-prefill', label: name, ...heads, tokens, pos: 0 });
  for (const kvLen of DECODE_LENGTHS) cases.push({ family: 'attention-decode', label: name, ...heads, kvLen });
  for (const rows of [1, PREFILL_TOKENS]) cases.push({ family: 'rmsnorm', label: name, rows, cols: h, residual: false });
  cases.push({ family: 'rmsnorm', label: `${name} + residual`, rows: PREFILL_TOKENS, cols: h, residual: true });
  cases.push({ family: 'rope', label: `${name} q, decode`, tokens: 1, nHeads: m.heads, headDim: m.headDim, pos: 4095, theta: m.ropeTheta, style: 'half' });
  cases.push({ family: 'rope', label: `${name} q, prefill`, tokens: PREFILL_TOKENS, nHeads: m.heads, headDim: m.headDim, pos: 0, theta: m.ropeTheta, style: 'half' });
  cases.push({ family: 'rope', label: `${name} q (GGUF)`, tokens: PREFILL_TOKENS, nHeads: m.heads, headDim: m.headDim, pos: 0, theta: m.ropeTheta, style: 'interleaved' });
  for (const tokens of [1, PREFILL_TOKENS]) cases.push({ family: 'silu_mul', label: name, tokens, n: inter });
  cases.push({ family: 'softmax', label: `${name} logits`, rows: 1, cols: m.vocab });
  for (const format of FORMATS) cases.push({ family: 'embed', label: `${name} tokens`, format, vocab: m.vocab, cols: h, tokens: PREFILL_TOKENS });
  return cases;
}

function whisperCases(m: WhisperShape): LabCase[] {
  const { name, state: d, audioCtx: T } = m;
  const headDim = d / m.heads;
  const cases: LabCase[] = [
    { family: 'layernorm', label: `${name} encoder`, rows: T, cols: d },
    { family: 'layernorm', label: `${name} decoder step`, rows: 1, cols: d },
    { family: 'gelu', label: `${name} encoder MLP`, tokens: T, n: m.mlp },
    { family: 'add_rows', label: `${name} encoder positions`, tokens: T, n: d, rows: T, pos: 0 },
    { family: 'add_rows', label: `${name} decoder position`, tokens: 1, n: d, rows: m.textCtx, pos: 100 },
  ];
  for (const variant of VARIANTS) {
    cases.push({ family: 'conv1d', label: `${name} conv1`, variant, tIn: 2 * T, cIn: m.mels, cOut: d, stride: 1 });
    cases.push({ family: 'conv1d', label: `${name} conv2`, variant, tIn: 2 * T, cIn: d, cOut: d, stride: 2 });
  }
  cases.push(
    { family: 'attention_full', label: `${name} encoder`, method: 'matmul', heads: m.heads, headDim, tokens: T, kvLen: T },
    { family: 'attention_full', label: `${name} encoder`, method: 'direct', heads: m.heads, headDim, tokens: T, kvLen: T },
    { family: 'attention_full', label: `${name} cross, decode`, method: 'direct', heads: m.heads, headDim, tokens: 1, kvLen: T },
  );
  return cases;
}

/** A preset's cases that pass `filter`; those too large for a browser tab come back as `skipped`. */
export function presetCases(id: string, filter: CaseFilter = {}): { cases: LabCase[]; skipped: LabCase[] } {
  const model = MODELS.find((m) => m.name === id);
  const whisper = WHISPER_MODELS.find((m) => m.name === id);
  if (!model && !whisper && id !== SMALL_PRESET.id) throw new Error(`unknown preset ${id}`);
  const all = model ? modelCases(model) : whisper ? whisperCases(whisper) : smallCases();
  const kept = all.filter(
    (c) =>
      (!filter.families || filter.families.includes(c.family)) &&
      (!('format' in c) || !filter.formats || filter.formats.includes(c.format)) &&
      (!('variant' in c) || !filter.variants || filter.variants.includes(c.variant as MatmulVariant)),
  );
  return {
    cases: kept.filter((c) => caseHostBytes(c) <= MAX_PRESET_HOST_BYTES),
    skipped: kept.filter((c) => caseHostBytes(c) > MAX_PRESET_HOST_BYTES),
  };
}
