/**
 * What the integer dot products, or a compact KV cache, cost in accuracy: the same real file
 * loaded twice, the f32 baseline and the variant: activations 'int8' (decode GEMVs on int8-packed
 * input rows, kernels/matmul.ts intDot), or with --kv-cache f16|q8 the KV cache in that format, both
 * with prefill chunks of one token so that every position goes through the decode kernels (and
 * reads the cache written before it). The f32 engine's greedy continuation of each prompt is scored
 * by both (Engine.score, teacher forcing): per position, the argmax, and the log-probabilities of
 * the f32 engine's top 5 under each.
 *
 *   node --import tsx --import ./scripts/register-raw.mjs bench/variant-accuracy.ts [--tokens N] [--prompts N] [--kv-cache f16|q8] [files...]
 * Default files: the real SmolLM2-135M-Instruct Q4_1 and Gemma 3 270M Q4_K_M. Prints Markdown.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { createEngine, type NodeEngine } from '../src/node.js';
import type { KvFormat } from '../src/kernels/kv_append.js';
import { GEMMA3_270M, modelsDir, SMOLLM2_135M } from '../scripts/models.mjs';
import { CHAT_MODEL_PROMPTS, promptText } from './lib/parity.js';

const { values, positionals } = parseArgs({ options: { tokens: { type: 'string', default: '16' }, prompts: { type: 'string', default: '4' }, 'kv-cache': { type: 'string' } }, allowPositionals: true });
const kvCache = values['kv-cache'] as KvFormat | undefined;
const variant = kvCache ? `KV ${kvCache}` : 'int8';
const files = positionals.length ? positionals : [join(modelsDir(), SMOLLM2_135M), join(modelsDir(), GEMMA3_270M)];
const steps = Number(values.tokens);
const prompts = CHAT_MODEL_PROMPTS.slice(0, Number(values.prompts));

interface Row {
  file: string;
  prompt: string;
  positions: number;
  argmaxEqual: number;
  worst: number;
  mean: number;
}

const rows: Row[] = [];
for (const file of files) {
  const open = (o: { activations?: 'int8'; kvCache?: KvFormat }): Promise<NodeEngine> => createEngine({ model: file, contextLength: 256, prefillChunk: 1, ...o });
  const f32 = await open({});
  const other = await open(kvCache ? { kvCache } : { activations: 'int8' });
  if (!kvCache && !other.info.features.packedDot4x8) throw new Error('this adapter has no packed_4x8_integer_dot_product: nothing to measure');
  for (const p of prompts) {
    const ids = f32.engine.tokenizer.encode(promptText(f32.engine, p), { addSpecialTokens: true });
    const cont = (await f32.engine.generate({ promptIds: ids, maxTokens: steps, sampling: { temperature: 0 }, stopIds: [] })).ids;
    const tokens = [...ids, ...cont];
    const a = await f32.engine.score(tokens, ids.length, 5);
    const b = await other.engine.score(tokens, ids.length, 5);
    let argmaxEqual = 0;
    let worst = 0;
    let sum = 0;
    let count = 0;
    a.forEach((s, i) => {
      const t = b[i]!;
      if (s.top[0]!.id === t.top[0]!.id) argmaxEqual++;
      // f32's top 5 where the variant's top 5 has them too (near-certain tokens: all of them)
      for (const x of s.top) {
        const y = t.top.find((z) => z.id === x.id);
        if (!y) continue;
        const d = Math.abs(x.logprob - y.logprob);
        worst = Math.max(worst, d);
        sum += d;
        count++;
      }
    });
    rows.push({ file: file.split('/').pop()!, prompt: p.name, positions: a.length, argmaxEqual, worst, mean: sum / count });
    console.error(`${rows.at(-1)!.file} ${p.name}: argmax ${argmaxEqual}/${a.length}, worst ${worst.toFixed(4)}, mean ${(sum / count).toFixed(4)}`);
  }
  console.error(`${file}: launches per decode token f32 ${f32.info.dispatchesPerToken}, ${variant} ${other.info.dispatchesPerToken}; KV cache bytes ${f32.info.kvCacheBytes} and ${other.info.kvCacheBytes}`);
  await f32.unload();
  await other.unload();
}

console.log(`| file | prompt | positions | argmax equal (f32 vs ${variant}) | top-5 log-prob. difference, worst | mean |`);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.file} | ${r.prompt} | ${r.positions} | ${r.argmaxEqual} | ${r.worst.toFixed(4)} | ${r.mean.toFixed(4)} |`);
process.exit(0);
