/**
 * Where a decode token's time goes, in Node on Dawn, measured in one process with the variants
 * alternated: the wall time per token of the GPU-resident decode loop (the next step submitted
 * before the token is read back) and of the step-by-step loop (each token read back before the next
 * step is submitted; forced with an allow-everything constraint), with decode fused into the GEMVs
 * and without (fuse: false), against the GPU time of one decode step (timestamp queries around every
 * launch, forward pass and sampler). Wall minus GPU is the time the GPU waits for the CPU.
 *
 *   npm run bench:decode-loop -- [--models stories,smollm2,gemma3] [--tokens N] [--repeats N] [--kv-cache f32|f16]
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createEngine } from '../src/node.js';
import type { TokenConstraint } from '../src/engine/constraint.js';
import type { KvFormat } from '../src/kernels/kv_append.js';
import { GEMMA3_270M, modelsDir, SMOLLM2_135M } from '../scripts/models.mjs';
import { groupKernels } from './lib/model-metrics.js';
import { spread } from './lib/stats.js';

const FILES: Record<string, string> = {
  stories: new URL('../../shared/models/stories260K/stories260K.gguf', import.meta.url).pathname,
  smollm2: `${modelsDir()}/${SMOLLM2_135M}`,
  gemma3: `${modelsDir()}/${GEMMA3_270M}`,
};

const stepByStep = (): TokenConstraint => ({ nextMask: () => null, accept: () => undefined, canStop: () => true, isTerminated: () => false });

const { values: flags } = parseArgs({
  options: {
    models: { type: 'string', default: 'stories,smollm2' },
    tokens: { type: 'string' },
    repeats: { type: 'string', default: '3' },
    'kv-cache': { type: 'string', default: 'f32' },
  },
});

for (const key of flags.models!.split(',')) {
  const file = FILES[key];
  if (!file || !existsSync(file)) {
    console.log(`${key}: no file (${file ?? 'unknown model'}), skipped`);
    continue;
  }
  const engines = { fused: await createEngine({ model: file, contextLength: 256, kvCache: flags['kv-cache'] as KvFormat }), unfused: await createEngine({ model: file, contextLength: 256, kvCache: flags['kv-cache'] as KvFormat, fuse: false }) };
  try {
    const tokens = Number(flags.tokens ?? (key === 'stories' ? 64 : 8));
    const prompt = engines.fused.tokenizer.encode('Once upon a time, in a small village', { addSpecialTokens: true });
    const run = async (which: keyof typeof engines, sync: boolean) => {
      const e = engines[which].engine;
      e.resetCache();
      const r = await e.generate({ promptIds: prompt, maxTokens: tokens, sampling: { temperature: 0 }, stopIds: [], constraint: sync ? stepByStep() : undefined });
      return r.timings.decodeMs / (r.ids.length - 1);
    };
    const variants = [['fused', false], ['fused', true], ['unfused', false], ['unfused', true]] as const;
    for (const [which] of variants) await run(which, false); // warm-up: pipelines, caches
    const wall = variants.map(() => [] as number[]);
    for (let i = 0; i < Number(flags.repeats); i++) for (const [j, [which, sync]] of variants.entries()) wall[j]!.push(await run(which, sync));
    // profiles alternated too; on a shared machine the least disturbed run says most: the fastest
    // profile's families, and minima beside medians
    const gpus = { fused: [] as number[], unfused: [] as number[] };
    const fams = { fused: [] as ReturnType<typeof groupKernels>, unfused: [] as ReturnType<typeof groupKernels> };
    for (let i = 0; i < Number(flags.repeats); i++) {
      for (const which of ['fused', 'unfused'] as const) {
        const t = await engines[which].engine.profile([prompt.at(-1)!], prompt.length + tokens / 2);
        const total = t.reduce((s, k) => s + k.ms, 0);
        if (total <= Math.min(...gpus[which])) fams[which] = groupKernels(t);
        gpus[which].push(total);
      }
    }
    for (const which of ['fused', 'unfused'] as const) {
      const gpu = gpus[which];
      const families = fams[which];
      const f = (xs: number[]) => `${spread(xs).min.toFixed(2)} / ${spread(xs).median.toFixed(2)}`;
      const [a, s] = variants.flatMap(([w], j) => (w === which ? [wall[j]!] : []));
      const g = spread(gpu);
      const wait = (xs: number[]) => `${Math.max(0, spread(xs).min - g.min).toFixed(2)} / ${Math.max(0, spread(xs).median - g.median).toFixed(2)}`;
      console.log(`${key} ${which} (${engines[which].info.dispatchesPerToken} launches/token, KV ${flags['kv-cache']}), ms per decode token, min / median of ${flags.repeats}:`);
      console.log(`  GPU-resident loop ${f(a!)} | step-by-step ${f(s!)} | GPU time per step ${f(gpu)} | GPU waits for the CPU: ${wait(a!)} (resident), ${wait(s!)} (step-by-step)`);
      console.log(`  GPU time by kernel family (fastest profile): ${families.map((k) => `${k.family} ${k.ms.toFixed(2)} (${(100 * k.share).toFixed(0)}%)`).join(', ')}`);
    }
  } finally {
    await engines.fused.unload();
    await engines.unfused.unload();
  }
}
process.exit(0);
