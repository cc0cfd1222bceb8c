/**
 * npm run bench:batch-step -- MODEL [MODEL...]: the batched decode step alone (no HTTP, no
 * scheduling), tokens/s of one step over M = 1, 2, 4, 8 sequences (BatchDecoder.decode), beside
 * the solo decode of Engine.generate on the same engine: how much of serve's batching gain the
 * step itself gives on this adapter.
 */
import { loadavg } from 'node:os';
import { createEngine } from '../src/node.js';

const STEPS = Number(process.env.STEPS ?? 4);
for (const model of process.argv.slice(2)) {
  const e = await createEngine({ model, contextLength: 256 });
  const engine = e.engine;
  const prompt = [1, 2, 3, 4, 5, 6, 7, 8].map((x) => x + 10);
  const solo = await engine.generate({ promptIds: prompt, maxTokens: STEPS + 1, sampling: { temperature: 0 }, stopIds: [] });
  const rows: string[] = [`${model} (${engine.info.adapter.description}; load ${loadavg()[0]!.toFixed(1)}): solo decode ${solo.timings.decodeTokensPerSecond.toFixed(2)} tok/s`];
  const batch = engine.createBatch({ maxRows: 8 });
  const seqs: number[] = [];
  for (let i = 0; i < 8; i++) seqs.push((await batch.add(prompt.map((x) => x + i))).seq);
  await batch.decode(seqs.slice(0, 1)); // warm-up
  for (const m of [1, 2, 4, 8]) {
    const t0 = performance.now();
    for (let s = 0; s < STEPS; s++) await batch.decode(seqs.slice(0, m));
    const ms = (performance.now() - t0) / STEPS;
    rows.push(`  M=${m}: ${ms.toFixed(0)} ms/step, ${((m * 1000) / ms).toFixed(2)} tok/s aggregate`);
  }
  batch.destroy();
  await e.unload();
  console.log(rows.join('\n'));
}
process.exit(0);
