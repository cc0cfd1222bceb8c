/**
 * Weights' GPU bytes against the file's, per file: loaded as stored (the formats of src/quant) and
 * widened to q8_0 (dtype 'q8_0', what Q4_1, Q5_0 and the k-quants took before their kernels), by
 * the real loader (engine.info.weightBytes: matrices in their GPU layout, norms as f32).
 *
 *   node --import tsx --import ./scripts/register-raw.mjs bench/gpu-bytes.ts [files...]
 * Default: the real SmolLM2-135M-Instruct Q4_1 and Gemma 3 270M Q4_K_M, and a synthetic
 * Q5_K_M-style file (Q5_K, with Q6_K embeddings, V and FFN-down, as llama.cpp mixes it) at a
 * shape whose rows are whole 256-value super-blocks. Prints Markdown.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openModel } from '../src/formats/model-files.js';
import { resolveModelSource } from '../src/hub/resolve.js';
import { createEngine } from '../src/node.js';
import { GEMMA3_270M, modelsDir, SMOLLM2_135M } from '../scripts/models.mjs';
import { syntheticWeights, writeGgufModel, type SyntheticSpec } from '../test/fixtures/synthetic.js';
import { MODEL_CACHE } from './lib/gguf-file.js';

function q5kmFile(): string {
  const spec: SyntheticSpec = { arch: 'llama', hidden: 512, intermediate: 1536, layers: 4, heads: 8, kvHeads: 2, headDim: 64, vocab: 4096, tied: false, ropeTheta: 10000, seed: 3 };
  const path = join(MODEL_CACHE, 'synthetic-q5_k_m-512x1536x4.gguf');
  mkdirSync(MODEL_CACHE, { recursive: true });
  const mix = (name: string) => (/^(embed|lm_head)$|\.(v|down)$/.test(name) ? 'Q6_K' : undefined);
  writeFileSync(path, writeGgufModel(spec, syntheticWeights(spec), 'Q5_K', undefined, mix));
  return path;
}

const files = process.argv.length > 2 ? process.argv.slice(2) : [join(modelsDir(), SMOLLM2_135M), join(modelsDir(), GEMMA3_270M), q5kmFile()];
console.log('| file | tensor types | file bytes | tensor bytes | GPU bytes as stored (formats) | / tensor bytes | GPU bytes widened to q8_0 | / tensor bytes |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const file of files) {
  const tensors = [...(await openModel(await resolveModelSource(file))).tensors.values()];
  const bytes = tensors.reduce((s, t) => s + t.byteLength, 0);
  const types = [...new Set(tensors.map((t) => t.dtype))].join(', ');
  const load = async (dtype?: 'q8_0') => {
    const e = await createEngine({ model: file, contextLength: 64, dtype });
    const info = { bytes: e.info.weightBytes, formats: e.info.weightFormats };
    await e.unload();
    return info;
  };
  const native = await load();
  const widened = await load('q8_0');
  const formats = Object.entries(native.formats).map(([f, n]) => `${f} ${n}`).join(', ');
  const n = (v: number) => v.toLocaleString('en-US');
  console.log(`| ${file.split('/').pop()} | ${types} | ${n(statSync(file).size)} | ${n(bytes)} | ${n(native.bytes)} (${formats}) | ${(native.bytes / bytes).toFixed(4)} | ${n(widened.bytes)} | ${(widened.bytes / bytes).toFixed(3)} |`);
}
process.exit(0);
