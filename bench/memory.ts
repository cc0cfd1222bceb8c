/**
 * Memory over time (issue 16), in Node on Dawn: 50 load/unload cycles of stories260K and 500
 * requests with random aborts on one engine. Live GPU buffers are counted by wrapping the
 * device's createBuffer and each buffer's destroy; the JS heap is read after a forced GC.
 *
 *   node --expose-gc --import tsx --import ./scripts/register-raw.mjs bench/memory.ts [--cycles 50] [--requests 500]
 */
import { parseArgs } from 'node:util';
import { createEngine } from '../src/node.js';
import { createNodeGpuContext } from '../src/gpu/node.js';
import { isHearthError } from '../src/errors.js';

const { values: v } = parseArgs({ options: { cycles: { type: 'string', default: '50' }, requests: { type: 'string', default: '500' }, seed: { type: 'string', default: '1' } } });
const STORIES = process.env.HEARTH_STORIES ?? new URL('../../shared/models/stories260K/stories260K.gguf', import.meta.url).pathname;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const ctx = await createNodeGpuContext();
const live = new Map<GPUBuffer, number>();
let created = 0;
const device = ctx.device;
const create = device.createBuffer.bind(device);
device.createBuffer = (desc: GPUBufferDescriptor): GPUBuffer => {
  const b = create(desc);
  created++;
  live.set(b, desc.size);
  const destroy = b.destroy.bind(b);
  b.destroy = () => {
    live.delete(b);
    destroy();
  };
  return b;
};
const liveBytes = () => [...live.values()].reduce((a, b) => a + b, 0);
const heap = async () => {
  for (let i = 0; i < 3; i++) {
    gc!();
    await new Promise((r) => setTimeout(r, 10));
  }
  return process.memoryUsage().heapUsed;
};
const mb = (n: number) => (n / 2 ** 20).toFixed(2);

let seed = Number(v.seed) >>> 0;
const rand = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

// ---- load/unload cycles ----
const cycles = Number(v.cycles);
// one warm-up cycle: pipelines are cached per device and kept
{
  const e = await createEngine({ model: STORIES, gpu: ctx, contextLength: 128 });
  await e.unload();
}
const base = { buffers: live.size, bytes: liveBytes(), heap: await heap() };
const rows: string[] = [];
let peakBuffers = 0;
const t0 = performance.now();
for (let i = 0; i < cycles; i++) {
  const e = await createEngine({ model: STORIES, gpu: ctx, contextLength: 128 });
  peakBuffers = Math.max(peakBuffers, live.size);
  await e.completions.create({ prompt: [1], max_tokens: 4, temperature: 0 });
  await e.unload();
  if (i === 0 || (i + 1) % 10 === 0) rows.push(`| ${i + 1} | ${live.size - base.buffers} | ${mb(liveBytes() - base.bytes)} | ${mb((await heap()) - base.heap)} |`);
}
const cycleMs = (performance.now() - t0) / cycles;
const afterCycles = { buffers: live.size, bytes: liveBytes(), heap: await heap() };

// ---- requests with random aborts ----
const requests = Number(v.requests);
const engine = await createEngine({ model: STORIES, gpu: ctx, contextLength: 128 });
await engine.completions.create({ prompt: [1], max_tokens: 2 });
const rBase = { buffers: live.size, bytes: liveBytes(), heap: await heap() };
const outcome = { ok: 0, aborted: 0, other: 0 };
const rRows: string[] = [];
const t1 = performance.now();
for (let i = 0; i < requests; i++) {
  const ctrl = new AbortController();
  const abortAt = rand() < 0.4 ? rand() * 30 : null;
  const timer = abortAt === null ? null : setTimeout(() => ctrl.abort(), abortAt);
  const stream = rand() < 0.5;
  const maxTokens = 1 + Math.floor(rand() * 24);
  try {
    if (rand() < 0.5) {
      const r = await engine.completions.create({ prompt: [1, 403, 407], max_tokens: maxTokens, temperature: rand(), stream }, { signal: ctrl.signal });
      if (stream) for await (const _ of r as AsyncIterable<unknown>);
    } else {
      const r = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: maxTokens, logprobs: rand() < 0.3, top_logprobs: 3, stream }, { signal: ctrl.signal });
      if (stream) for await (const _ of r as AsyncIterable<unknown>);
    }
    outcome.ok++;
  } catch (e) {
    if (isHearthError(e, 'ABORTED')) outcome.aborted++;
    else {
      outcome.other++;
      console.error(e);
    }
  } finally {
    if (timer) clearTimeout(timer);
  }
  if ((i + 1) % 100 === 0) rRows.push(`| ${i + 1} | ${live.size - rBase.buffers} | ${mb(liveBytes() - rBase.bytes)} | ${mb((await heap()) - rBase.heap)} |`);
}
const requestMs = (performance.now() - t1) / requests;
await engine.unload();
const end = { buffers: live.size, bytes: liveBytes(), heap: await heap() };

console.log(`## Load/unload cycles (stories260K, contextLength 128, one 4-token completion each)

Baseline after one warm-up cycle: ${base.buffers} live GPU buffers (${mb(base.bytes)} MiB: the shared device's own), JS heap ${mb(base.heap)} MiB. Peak while loaded: ${peakBuffers} buffers. ${cycleMs.toFixed(0)} ms per cycle.

| cycle | live buffers vs baseline | live GPU MiB vs baseline | JS heap MiB vs baseline |
|---|---|---|---|
${rows.join('\n')}

After ${cycles} cycles: ${afterCycles.buffers - base.buffers} buffers, ${mb(afterCycles.bytes - base.bytes)} MiB GPU, heap ${mb(afterCycles.heap - base.heap)} MiB vs baseline.

## ${requests} requests with random aborts (one engine)

${outcome.ok} completed, ${outcome.aborted} aborted (ABORTED), ${outcome.other} other errors; ${requestMs.toFixed(0)} ms per request. Baseline with the engine loaded: ${rBase.buffers} buffers, heap ${mb(rBase.heap)} MiB.

| requests | live buffers vs baseline | live GPU MiB vs baseline | JS heap MiB vs baseline |
|---|---|---|---|
${rRows.join('\n')}

After unload: ${end.buffers - base.buffers} buffers, ${mb(end.bytes - base.bytes)} MiB GPU, heap ${mb(end.heap - base.heap)} MiB vs the first baseline. ${created} buffers created in all.`);
ctx.destroy();
process.exit(0);
