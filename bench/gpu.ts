/**
 * The benchmark a GPU machine runs from the self-contained bundle (`npm run bench -- --bundle DIR`,
 * bench/bundle.ts), and that runs here too: the adapter's read roofline, then whole models of
 * random weights at real shapes, generated on the spot (no download): Llama-3.2-1B in Q4_0, Q4_K
 * and Q8_0, SmolLM2-135M in Q4_0 and Q8_0. For each: prefill and decode tok/s, dispatches per
 * token, GPU bytes, decode's reads per token over the roofline, and GPU time per kernel family.
 * Writes one JSON report and prints a table.
 *
 *   node bench.mjs [--quick] [--out DIR] [--models llama32,smollm2] [--formats Q4_0,Q4_K,Q8_0]
 *                  [--prompt N] [--decode N] [--repeats N]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname, platform, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { isCpuAdapter } from '../src/gpu/device.js';
import { createNodeGpuContext } from '../src/gpu/node.js';
import type { GgufType } from './lib/gguf-file.js';
import { roofline } from './lib/ours.js';
import { modelFile, benchModelFile, printNodeModels, type ModelKey, type NodeModelResult } from './models.js';

export interface GpuBenchReport {
  schema: 1;
  date: string;
  host: { name: string; cpu: string; cores: number; platform: string; node: string };
  adapter: { vendor: string; architecture: string; device: string; description: string };
  cpuAdapter: boolean;
  features: Record<string, boolean>;
  roofline: { readGBps: number; fmaGflops: number; timing: string };
  plan: { models: ModelKey[]; formats: GgufType[]; prompt: number; decode: number; repeats: number };
  results: (NodeModelResult | { model: string; format: GgufType; error: string })[];
  seconds: number;
}

export const GPU_PLAN = { models: ['llama32', 'smollm2'] as ModelKey[], formats: { llama32: ['Q4_0', 'Q4_K', 'Q8_0'], smollm2: ['Q4_0', 'Q8_0'] } as Partial<Record<ModelKey, GgufType[]>> };

export async function runGpuBench(o: { quick: boolean; models?: ModelKey[]; formats?: GgufType[]; prompt?: number; decode?: number; repeats?: number; log: (s: string) => void }): Promise<GpuBenchReport> {
  const t0 = performance.now();
  const { log } = o;
  const ctx = await createNodeGpuContext();
  try {
    const a = ctx.adapterInfo;
    const cpu = isCpuAdapter(ctx);
    log(`adapter: ${a.vendor} ${a.architecture} ${a.device} (${a.description})${cpu ? ' [CPU driver]' : ''}`);
    let best: Awaited<ReturnType<typeof roofline>> | null = null;
    for (let i = 0; i < 3; i++) {
      const r = await roofline(ctx, o.quick);
      if (!best || r.readGBps > best.readGBps) best = r;
    }
    const roof = best!;
    log(`roofline: read ${roof.readGBps.toFixed(1)} GB/s, FMA ${roof.fmaGflops.toFixed(1)} GFLOP/s (best of 3, ${roof.timing})`);
    // a CPU driver gets a short run (it is the same code, checked here before it travels)
    const plan = {
      models: o.models ?? GPU_PLAN.models,
      formats: o.formats ?? [],
      prompt: o.prompt ?? (cpu || o.quick ? 16 : 128),
      decode: o.decode ?? (cpu || o.quick ? 4 : 128),
      repeats: o.repeats ?? (cpu || o.quick ? 1 : 5),
    };
    const results: GpuBenchReport['results'] = [];
    for (const key of plan.models) {
      for (const type of plan.formats.length ? plan.formats : (GPU_PLAN.formats[key] ?? ['Q4_0'])) {
        try {
          const f = modelFile(key, type, log);
          results.push(await benchModelFile(ctx, f, roof, { prompt: plan.prompt, decode: plan.decode, repeats: plan.repeats, profile: true }, log));
        } catch (e) {
          const error = e instanceof Error ? e.message : String(e);
          log(`  ${key} ${type} failed: ${error}`);
          results.push({ model: key, format: type, error });
        }
      }
    }
    return {
      schema: 1,
      date: new Date().toISOString(),
      host: { name: hostname(), cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, platform: `${platform()} ${release()}`, node: process.version },
      adapter: a,
      cpuAdapter: cpu,
      features: { ...ctx.features },
      roofline: { readGBps: roof.readGBps, fmaGflops: roof.fmaGflops, timing: roof.timing },
      plan,
      results,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    ctx.destroy();
  }
}

export function printGpuReport(r: GpuBenchReport, log: (s: string) => void): void {
  const ok = r.results.filter((x): x is NodeModelResult => !('error' in x));
  log('');
  printNodeModels(ok, log);
  for (const m of ok) {
    if (!m.profile) continue;
    const top = m.profile.decode.slice(0, 6).map((k) => `${k.family} ${(100 * k.share).toFixed(0)}%`);
    log(`  ${m.model} ${m.format}: GPU bytes ${(m.weightBytes / 1e6).toFixed(1)} MB = ${(m.weightBytes / m.fileBytes).toFixed(3)}x the file; decode step ${m.profile.decodeMs.toFixed(2)} ms of GPU time: ${top.join(', ')}`);
  }
}

async function main(): Promise<void> {
  const { values: f } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string', default: 'results' },
      models: { type: 'string' },
      formats: { type: 'string' },
      prompt: { type: 'string' },
      decode: { type: 'string' },
      repeats: { type: 'string' },
    },
  });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const log = (s: string) => console.log(s);
  const report = await runGpuBench({
    quick: f.quick === true,
    models: f.models ? (f.models.split(',') as ModelKey[]) : undefined,
    formats: f.formats ? (f.formats.toUpperCase().split(',') as GgufType[]) : undefined,
    prompt: num(f.prompt),
    decode: num(f.decode),
    repeats: num(f.repeats),
    log,
  });
  printGpuReport(report, log);
  mkdirSync(f.out!, { recursive: true });
  const slug = `${report.adapter.vendor}-${report.adapter.device || report.adapter.architecture}`.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  const file = join(f.out!, `${report.date.slice(0, 10)}-gpu-${slug}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 1)}\n`);
  log(`\n${report.seconds.toFixed(0)} s; wrote ${file}`);
}

if ((globalThis as { __HEARTH_BUNDLE__?: boolean }).__HEARTH_BUNDLE__ || import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
