import { expect } from 'vitest';
import { MemoryModelSource } from '../../src/hub/memory.js';
import type { ModelSource } from '../../src/hub/byte-source.js';
import { openModel, readTensor } from '../../src/formats/model-files.js';
import { tensorSchema } from '../../src/formats/schema.js';
import { activationQuant, convertMatrix, normWeight, tensorToF32, type WeightDtype } from '../../src/models/load.js';
import type { ActQuant } from '../../src/quant/formats.js';
import type { ActivationMode } from '../../src/models/forward.js';
import type { KvFormat } from '../../src/kernels/kv_append.js';
import { dequantize, isQuantized } from '../../src/quant/formats.js';
import { ReferenceLlama } from '../../src/reference/llama.js';
import { loadEngine } from '../../src/engine/load.js';
import type { Engine } from '../../src/engine/engine.js';
import { syntheticWeights, writeGgufModel, writeHfModel, type GgufFileType, type SyntheticSpec } from '../fixtures/synthetic.js';
import { testGpu } from './gpu.js';

export type FileFormat = { kind: 'hf'; dtype: 'F32' | 'F16' | 'BF16' } | { kind: 'gguf'; type: GgufFileType };

/** The files a new architecture is checked in: Hugging Face F32 and BF16, GGUF F16, Q8_0 and Q4_0. */
export const ARCHITECTURE_FORMATS: readonly FileFormat[] = [
  { kind: 'hf', dtype: 'F32' },
  { kind: 'hf', dtype: 'BF16' },
  { kind: 'gguf', type: 'F16' },
  { kind: 'gguf', type: 'Q8_0' },
  { kind: 'gguf', type: 'Q4_0' },
];

export const formatName = (f: FileFormat): string => (f.kind === 'hf' ? `safetensors ${f.dtype}` : `gguf ${f.type}`);

/** A synthetic model written in `format`, as an in-memory model source. */
export function syntheticSource(spec: SyntheticSpec, format: FileFormat): ModelSource {
  const w = syntheticWeights(spec);
  if (format.kind === 'hf') return new MemoryModelSource(Object.fromEntries(writeHfModel(spec, w, format.dtype)), `memory:hf-${format.dtype}`);
  return new MemoryModelSource({ 'model.gguf': writeGgufModel(spec, w, format.type) }, `memory:gguf-${format.type}`);
}

/**
 * The CPU reference of the model in `source`, built from the same tensors the GPU loader reads,
 * converted to the same GPU formats and dequantized: so the only differences left are the
 * kernels' arithmetic. With activations 'q8', each quantized matrix's
 * input is quantized as the engine does (models/load.ts activationQuant).
 */
export async function referenceFor(source: ModelSource, maxCtx: number, dtype?: WeightDtype, activations: ActivationMode = 'f32'): Promise<ReferenceLlama> {
  const files = await openModel(source);
  const weights = new Map<string, Float32Array>();
  const actQuant = new Map<string, ActQuant | null>();
  const norms = new Set(tensorSchema(files.config).filter((t) => t.role === 'norm').map((t) => t.name));
  for (const [name, info] of files.tensors) {
    const bytes = await readTensor(source, info, undefined);
    if (info.shape.length === 2) {
      const { format, data } = convertMatrix(info, bytes, dtype);
      weights.set(name, dequantize(format, data, info.shape[0]! * info.shape[1]!));
      if (activations === 'q8') actQuant.set(name, activationQuant(info, dtype));
      // the integer-dot GEMVs pack every block-format matrix's input row to q8_0 blocks
      if (activations === 'int8' && isQuantized(format)) actQuant.set(name, 'q8_0');
    } else {
      const v = tensorToF32(info, bytes);
      weights.set(name, norms.has(name) ? normWeight(files.config, v) : v);
    }
  }
  return new ReferenceLlama(files.config, weights, maxCtx, { actQuant, f32Scale: activations === 'int8' });
}

export async function engineFor(source: ModelSource, contextLength: number, opts: { dtype?: WeightDtype; prefillChunk?: number; activations?: ActivationMode; kvCache?: KvFormat } = {}): Promise<Engine> {
  return loadEngine(await testGpu(), source, { contextLength, ...opts });
}

/**
 * The engine's greedy run of `prompt` for `steps` tokens equals the CPU reference's on the same
 * files: the same ids, and every reported top log-probability within `tol` of the reference's.
 */
export async function expectGreedyMatchesReference(engine: Engine, source: ModelSource, ctx: number, prompt: number[], steps: number, tol = 2e-3): Promise<ReferenceLlama> {
  const ref = await referenceFor(source, ctx);
  const want = ref.greedy(prompt, steps);
  const got = await engine.generate({ promptIds: prompt, maxTokens: steps, sampling: { temperature: 0, topLogprobs: 5 }, stopIds: [] });
  expect(got.ids).toEqual(want.ids);
  got.tokens.forEach((t, i) => {
    const lp = logSoftmax(want.logits[i]!);
    for (const { id, logprob } of t.top) expect(Math.abs(logprob - lp[id]!), `step ${i}, token ${id}`).toBeLessThan(tol);
  });
  return ref;
}

/** Log-softmax of a logits vector, in f64. */
export function logSoftmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(logits, (v) => v - lse);
}
