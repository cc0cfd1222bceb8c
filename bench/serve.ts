/**
 * npm run bench:serve: `hearth serve` on 127.0.0.1 under load, through the official openai client.
 *   1. 200 requests from 8 concurrent clients with random aborts (stories260K, greedy, short
 *      replies): every reply not aborted must equal the same request run alone; afterwards no
 *      slot held, nothing queued, no GPU buffer left (counted on the device), same GPU memory.
 *   2. Time to first token and aggregate decode tokens/s with 1, 2, 4 and 8 concurrent streaming
 *      clients, on stories260K and SmolLM2-135M-Instruct (when its file is present): the baseline
 *      of one engine behind the fair queue, which batched decoding is to beat.
 * Writes bench/results/<date>-serve-load.md (or --out FILE).
 *   --skip-smollm       only stories260K
 *   --batch N           the load test with continuous batching (`hearth serve --batch N`), and
 *                       each sweep twice, queue then batch, in the same run
 *   --skip-smollm-queue with --batch: SmolLM2's sweep with batching only (its queue sweep is slow)
 *   --smollm FILE       SmolLM2 file (default $HEARTH_MODELS or ~/.cache/hearth/models)
 */
import { existsSync, writeFileSync } from 'node:fs';
import { homedir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import OpenAI from 'openai';
import { createServer, type HearthServer } from '../src/serve/index.js';
import { STORIES } from '../test/helpers/stories.js';
import { countBuffers } from '../test/helpers/gpu-buffers.js';
import { loadRequests, runLoad, soloReplies, throughput, type Throughput } from '../test/helpers/serve-load.js';

const { values: args } = parseArgs({ options: { 'skip-smollm': { type: 'boolean' }, smollm: { type: 'string' }, out: { type: 'string' }, total: { type: 'string' }, batch: { type: 'string' }, 'skip-smollm-queue': { type: 'boolean' } } });
const models = process.env.HEARTH_MODELS ?? join(homedir(), '.cache', 'hearth', 'models');
const smollm = args.smollm ?? join(models, 'SmolLM2-135M-Instruct.Q4_1.gguf');
const date = new Date().toISOString().slice(0, 10);
const out = args.out ?? `bench/results/${date}-serve-load.md`;
const total = Number(args.total ?? 200);
const batch = args.batch ? Number(args.batch) : undefined;

async function serve(model: string, contextLength: number, batched: number | undefined): Promise<{ server: HearthServer; client: OpenAI }> {
  const server = await createServer({ model, contextLength, port: 0, maxConcurrent: 1, maxQueue: 64, batch: batched });
  const url = await server.listen();
  return { server, client: new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0, timeout: 600_000 }) };
}

const lines: string[] = [];
const log = (s = '') => {
  lines.push(s);
  process.stdout.write(`${s}\n`);
};

// ---- 1. the load test ----
const { server, client } = await serve(STORIES, 256, batch);
const engine = server.model.current();
log(`# hearth serve under load (${date})`);
log();
log(`Machine: ${engine.info.adapter.description || engine.info.adapter.vendor} (${engine.info.adapter.architecture || 'unknown architecture'}), ${cpus().length} CPU cores shared with other work (load average at the start ${loadavg().map((x) => x.toFixed(1)).join(' / ')}); Node ${process.version}. Server and clients in one process, over HTTP on 127.0.0.1, through the official \`openai\` client; ${batch ? `\`--batch ${batch}\` (continuous batching: up to ${batch} greedy requests decoded together, one forward pass per step)` : '\`--max-concurrent 1\` (the engine decodes one sequence at a time)'}.`);
log();
const requests = loadRequests(20, 8);
const solo = await soloReplies(client, requests);
const memory = engine.info.memoryBytes;
const buffers = countBuffers(engine.engine.ctx.device);
const load = await runLoad(client, requests, solo, { total, clients: 8, abortRate: 0.2, abortWithinMs: 400, seed: 2026 });
await server.scheduler.whenIdle();
const stats = server.scheduler.stats;
log(`## ${total} requests from 8 concurrent clients, random aborts (stories260K)`);
log();
log(`20 distinct greedy requests (chat and text completions, text and token-id prompts, streamed and not, 8 tokens each, some with ignore_eos), request i = template i mod 20, each aborted with probability 0.2 at a random time in its first 400 ms or at its first token; each reply not aborted compared with the same request run alone before the load.`);
log();
log('| | |');
log('| --- | --- |');
log(`| requests sent | ${load.sent} |`);
log(`| completed | ${load.completed} |`);
log(`| aborted by the client | ${load.aborted} |`);
log(`| completed replies different from the solo run | ${load.mismatches.length} |`);
log(`| errors | ${load.errors.length}${load.errors.length ? `: ${load.errors.slice(0, 3).join('; ')}` : ''} |`);
log(`| server's count: ok / client gone (while queued or running) / error / turned away | ${server.requests.ok} / ${server.requests.clientGone} / ${server.requests.error} / ${server.requests.rejected} (the ${requests.length} solo requests included; a request the client aborted after the server had finished counts as ok) |`);
log(`| wall time | ${(load.ms / 1000).toFixed(1)} s |`);
log(`| afterwards: slots held / queued | ${stats.active} / ${stats.queued} |`);
log(`| GPU buffers created during the load / still alive afterwards | ${buffers.created()} / ${buffers.live()} (${buffers.bytes()} bytes) |`);
log(`| engine GPU memory before / after | ${memory} / ${engine.info.memoryBytes} bytes |`);
log();
buffers.stop();
await server.close();

// ---- 2. TTFT and aggregate tok/s by concurrency ----
const table = (name: string, rows: Throughput[]) => {
  log(`### ${name}`);
  log();
  log('| concurrent clients | requests | completion tokens | aggregate tok/s | TTFT median (ms) | TTFT p90 (ms) | wall (s) |');
  log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) log(`| ${r.clients} | ${r.requests} | ${r.tokens} | ${r.aggregateTokensPerSecond.toFixed(2)} | ${r.ttftMedianMs.toFixed(0)} | ${r.ttftP90Ms.toFixed(0)} | ${(r.wallMs / 1000).toFixed(1)} |`);
  log();
};

async function sweep(model: string, body: Record<string, unknown>, kind: 'chat' | 'completion', perClient: (n: number) => number, batched: number | undefined): Promise<Throughput[]> {
  const s = await serve(model, 512, batched);
  try {
    await throughput(s.client, { ...body, max_tokens: 2 }, kind, 1, 1); // warm-up
    const rows: Throughput[] = [];
    for (const n of [1, 2, 4, 8]) rows.push(await throughput(s.client, body, kind, n, perClient(n)));
    return rows;
  } finally {
    await s.server.close();
  }
}

log(`## Time to first token and aggregate tokens/s by concurrency (${batch ? `queue, then --batch ${batch}` : 'queue, no batching'})`);
log();
log('Each client streams its requests one after another; all clients start together. Aggregate = completion tokens of all clients / wall time. Queue: the engine runs one request at a time, so aggregate tok/s stays flat and TTFT grows with the number of clients. Batch: the clients\' sequences decode together, one forward pass per step.');
log();
const modes: [string, number | undefined][] = batch ? [['queue', undefined], [`--batch ${batch}`, batch]] : [['queue', undefined]];
for (const [mode, b] of modes) {
  table(`stories260K (F32), prompt "Once upon a time", 32 tokens (ignore_eos), greedy: ${mode}`, await sweep(STORIES, { model: 'stories260K', prompt: 'Once upon a time', max_tokens: 32, temperature: 0, ignore_eos: true }, 'completion', (n) => Math.max(2, 16 / n), b));
}
if (!args['skip-smollm'] && existsSync(smollm)) {
  for (const [mode, b] of modes) {
    if (b === undefined && batch && args['skip-smollm-queue']) continue;
    table(
      `SmolLM2-135M-Instruct Q4_1, one chat message, 16 tokens (ignore_eos), greedy: ${mode}`,
      await sweep(smollm, { model: 'SmolLM2-135M-Instruct.Q4_1', messages: [{ role: 'user', content: 'Write one sentence about the sea.' }], max_tokens: 16, temperature: 0, ignore_eos: true }, 'chat', (n) => (n === 1 ? 2 : 1), b),
    );
  }
} else {
  log(`(SmolLM2 skipped: ${args['skip-smollm'] ? '--skip-smollm' : `${smollm} not found`})`);
}
log(`Load average at the end: ${loadavg().map((x) => x.toFixed(1)).join(' / ')} (1 / 5 / 15 minutes).`);
writeFileSync(out, `${lines.join('\n')}\n`);
process.stdout.write(`wrote ${out}\n`);
process.exit(load.mismatches.length || load.errors.length || buffers.live() ? 1 : 0);
