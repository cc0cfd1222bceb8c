/**
 * Hearth against llama.cpp (wllama 3.8.1, wasm CPU, in headless Chromium) on real GGUF files,
 * token for token (see bench/lib/parity.ts): every prompt's tokenization, greedy continuation
 * and top-K log-probabilities. Writes a Markdown report and JSON under bench/results/.
 *
 *   npm run bench:parity [-- --models smollm2,smollm2-f32,stories] [--steps 32] [--top 5] [--out DIR]
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, tmpdir } from 'node:os';
import { writeF32Gguf } from '../test/fixtures/gguf-f32.js';
import { parseArgs } from 'node:util';
import { resolveModelSource } from '../src/hub/resolve.js';
import { loadEngine } from '../src/engine/load.js';
import { createNodeGpuContext } from '../src/gpu/node.js';
import { startLlamaCpp } from './lib/llama-cpp.js';
import { CHAT_MODEL_PROMPTS, STORY_PROMPTS, comparePrompt, describeParity, type ParityPrompt, type PromptParity } from './lib/parity.js';
import type { WeightDtype } from '../src/models/load.js';
import { modelsDir } from '../scripts/models.mjs';

const { values } = parseArgs({ options: { models: { type: 'string' }, steps: { type: 'string' }, top: { type: 'string' }, out: { type: 'string' }, dtype: { type: 'string' }, prompts: { type: 'string' } } });
const steps = Number(values.steps ?? 32);
const topK = Number(values.top ?? 5);
const MODELS: Record<string, { file: string; prompts: ParityPrompt[]; noTokenizer?: boolean }> = {
  smollm2: { file: join(modelsDir(), 'SmolLM2-135M-Instruct.Q4_1.gguf'), prompts: CHAT_MODEL_PROMPTS },
  gemma3: { file: join(modelsDir(), 'gemma-3-270m-q4_k_m.gguf'), prompts: CHAT_MODEL_PROMPTS },
  file: { file: process.env.PARITY_FILE ?? '', prompts: CHAT_MODEL_PROMPTS },
  stories: { file: new URL('../../shared/models/stories260K/stories260K.gguf', import.meta.url).pathname, prompts: STORY_PROMPTS },
};
const keys = (values.models ?? 'smollm2,stories').split(',');
// smollm2-f32: the same weights dequantized to F32, so llama.cpp computes in f32 too (see test/browser/llama-cpp-real.test.ts)
if (keys.includes('smollm2-f32')) {
  const path = join(tmpdir(), 'hearth-parity-SmolLM2-135M-Instruct.F32.gguf');
  if (!existsSync(path)) await writeF32Gguf(MODELS.smollm2!.file, path);
  MODELS['smollm2-f32'] = { file: path, prompts: CHAT_MODEL_PROMPTS };
}
const report: { model: string; file: string; llamaCpp: string; threads: number; results: PromptParity[] }[] = [];
const gpu = await createNodeGpuContext();
for (const key of keys) {
  const m = MODELS[key];
  if (!m) throw new Error(`unknown model ${key}`);
  if (!existsSync(m.file)) throw new Error(`${m.file} is missing: run scripts/fetch-models.sh`);
  const llama = await startLlamaCpp(m.file, { nCtx: 256, tokenizer: !m.noTokenizer });
  const engine = await loadEngine(gpu, await resolveModelSource(m.file), { contextLength: 256, dtype: values.dtype as WeightDtype | undefined });
  const results: PromptParity[] = [];
  try {
    for (const p of values.prompts ? m.prompts.filter((_, i) => values.prompts!.split(',').includes(String(i))) : m.prompts) {
      const t0 = performance.now();
      const r = await comparePrompt(engine, llama, p, steps, topK);
      results.push(r);
      console.log(`${key} ${describeParity(r)} [${((performance.now() - t0) / 1000).toFixed(1)} s]`);
    }
  } finally {
    await engine.unload();
    await llama.close();
  }
  report.push({ model: key, file: m.file.split('/').pop()!, llamaCpp: llama.version, threads: llama.threads, results });
}
const out = values.out ?? 'bench/results';
mkdirSync(out, { recursive: true });
const stamp = new Date().toISOString().slice(0, 10);
const lines = [`# Hearth vs llama.cpp, token for token (${stamp})`, '', `Node ${process.version}, ${cpus().length} cores; Hearth on ${gpu.adapterInfo.vendor} ${gpu.adapterInfo.description} (Dawn in Node); llama.cpp = wllama (wasm CPU) in headless Chromium. Greedy ${steps} steps, top-${topK} log-probabilities, Hearth teacher-forced along llama.cpp's continuation.`, ''];
for (const m of report) {
  const eq = m.results.filter((r) => r.tokenizationEqual).length;
  const greedy = m.results.filter((r) => r.greedyEqual).length;
  const worst = Math.max(...m.results.map((r) => r.worstLogprobDiff));
  lines.push(`## ${m.file} (llama.cpp ${m.llamaCpp}, ${m.threads} threads)`, '', `${m.results.every((r) => r.tokenizationChecked) ? `tokenization equal ${eq}/${m.results.length}` : 'tokenization not checked (llama.cpp tokenizer not loaded)'}; greedy equal ${greedy}/${m.results.length}; worst top-${topK} log-probability difference ${worst.toFixed(4)}`, '');
  lines.push('| prompt | prompt tokens | tokens equal | greedy | worst diff | mean diff | continuation (llama.cpp) |', '| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of m.results) {
    const d = r.divergences[0];
    const g = d ? `diverges at ${d.step} (gap ${d.gap.toFixed(3)}${d.nearTie ? ', near-tie' : ''})` : `equal (${r.steps})`;
    lines.push(`| ${r.name} | ${r.llamaCppIds.length} | ${!r.tokenizationChecked ? 'not checked' : r.tokenizationEqual ? 'yes' : 'NO'} | ${g} | ${r.worstLogprobDiff.toFixed(4)} | ${r.meanLogprobDiff.toFixed(4)} | ${JSON.stringify(r.continuation).slice(1, -1).replace(/\|/g, '\\|').slice(0, 120)} |`);
  }
  lines.push('');
  for (const r of m.results.filter((x) => x.divergences.length)) lines.push(`- ${describeParity(r)}`);
  lines.push('');
}
const base = join(out, `${stamp}-parity-llama-cpp-${keys.join('-')}`);
writeFileSync(`${base}.md`, lines.join('\n'));
writeFileSync(`${base}.json`, JSON.stringify(report, null, 1));
console.log(`wrote ${base}.md`);
gpu.device.destroy();
process.exit(0);
