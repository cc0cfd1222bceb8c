/**
 * The whole benchmark in one command, on the machine at hand:
 *  1. Node (Dawn): roofline, our kernels at real model shapes, whole models (prefill/decode tok/s,
 *     dispatches per token, decode as a fraction of the read roofline, GPU time per kernel family)
 *  2. headless Chromium: roofline, our ops against ONNX Runtime Web's (ours and theirs alternated),
 *     whole models against wllama on the same GGUF files
 * then one JSON file (every figure with its repeats) and Markdown and HTML reports generated from
 * it, under bench/results/ (or --out).
 *
 *   npm run bench -- [--quick | --tiny] [--skip node,node-kernels,node-models,browser,browser-ops] [--out DIR] [--label NAME]
 *                    [--wllama-threads N (default: every core)] [--models stories,smollm2,qwen25,smollm2-instruct --formats F16,Q8_0,Q4_0 --prompt N --decode N --repeats N]
 * (the last five override the Node model plan)
 *
 *   npm run bench -- --bundle DIR    writes the self-contained GPU bench (bench/bundle.ts) to DIR instead
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { isCpuAdapter } from '../src/gpu/device.js';
import { createNodeGpuContext } from '../src/gpu/node.js';
import { kernelPlan, runNodeKernels, type KernelResults } from './kernels.js';
import { nodeModelPlan, printNodeModels, runNodeModels, type ModelKey, type NodeModelPlan, type NodeModelResult } from './models.js';
import type { GgufType } from './lib/gguf-file.js';
import { roofline } from './lib/ours.js';
import { spread, type Spread } from './lib/stats.js';
import { runBrowser, type BrowserPlan, type BrowserResults } from './browser/run-browser.js';
import { renderHtml, renderMarkdown } from './report.js';

export type Mode = 'tiny' | 'quick' | 'full';

export interface BenchRun {
  schema: 1;
  date: string;
  mode: Mode;
  label: string;
  git: { commit: string; dirty: boolean } | null;
  machine: { cpu: string; cores: number; memoryGB: number; platform: string; node: string; loadavg: { start: number[]; end: number[] } };
  seconds: { total: number; node: number; browser: number };
  node: {
    adapter: { vendor: string; architecture: string; device: string; description: string };
    features: Record<string, boolean>;
    limits: Record<string, number>;
    roofline: { readGBps: Spread; fmaGflops: Spread; timing: string };
    kernels: KernelResults | null;
    models: { plan: NodeModelPlan; results: NodeModelResult[] } | null;
    error?: string;
  } | null;
  browser: (BrowserResults & { plan: BrowserPlan }) | { error: string } | null;
}

function git(): BenchRun['git'] {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'shaders', 'bench'], { encoding: 'utf8' }).trim() !== '';
    return { commit, dirty };
  } catch {
    return null;
  }
}

const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

export interface RunOptions {
  mode: Mode;
  /** Sections to leave out: node, node-kernels, node-models, browser. */
  skip: string[];
  out: string;
  label?: string;
  wllamaThreads?: number;
  /** Overrides of the Node model plan. */
  models?: Partial<Pick<NodeModelPlan, 'models' | 'formats'>> & Partial<NodeModelPlan['run']>;
  log: (s: string) => void;
}

export async function runBench(opts: RunOptions): Promise<{ run: BenchRun; files: string[] }> {
  const { mode, skip, log } = opts;
  const quick = mode !== 'full';
  const t0 = performance.now();
  const start = loadavg();
  const run: BenchRun = {
    schema: 1,
    date: new Date().toISOString(),
    mode,
    label: '',
    git: git(),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGB: Math.round(totalmem() / 2 ** 30), platform: `${platform()} ${release()}`, node: process.version, loadavg: { start, end: [] } },
    seconds: { total: 0, node: 0, browser: 0 },
    node: null,
    browser: null,
  };

  if (!skip.includes('node')) {
    const tn = performance.now();
    log('== Node (Dawn) ==');
    const ctx = await createNodeGpuContext();
    try {
      const cpu = isCpuAdapter(ctx);
      const a = ctx.adapterInfo;
      log(`adapter: ${a.vendor} ${a.architecture} ${a.device} (${a.description})`);
      const reads: number[] = [];
      const fmas: number[] = [];
      let timing = '';
      for (let i = 0; i < (mode === 'tiny' ? 1 : 3); i++) {
        const r = await roofline(ctx, quick);
        reads.push(r.readGBps);
        fmas.push(r.fmaGflops);
        timing = r.timing;
      }
      const roof = { readGBps: spread(reads), fmaGflops: spread(fmas), timing };
      // a roofline is what the adapter can do: the best of the repeats (on a shared machine the others only measure the neighbours)
      const roofBest = { readGBps: roof.readGBps.max, fmaGflops: roof.fmaGflops.max, timing: timing as 'timestamp' | 'wallclock' };
      log(`roofline: read ${roofBest.readGBps.toFixed(2)} GB/s, FMA ${roofBest.fmaGflops.toFixed(2)} GFLOP/s (best of ${reads.length}, ${timing})`);
      run.node = { adapter: a, features: { ...ctx.features }, limits: { ...ctx.limits }, roofline: roof, kernels: null, models: null };
      try {
        if (!skip.includes('node-kernels')) run.node.kernels = await runNodeKernels(ctx, roofBest, kernelPlan(mode, cpu), log);
        if (!skip.includes('node-models')) {
          const plan = nodeModelPlan(mode, cpu);
          const { models, formats, ...runOpts } = opts.models ?? {};
          if (models) plan.models = models;
          if (formats) plan.formats = formats;
          Object.assign(plan.run, runOpts);
          log(`\nmodels: prompt ${plan.run.prompt}, decode ${plan.run.decode}, ${plan.run.repeats} repeats`);
          const results = await runNodeModels(ctx, roofBest, plan, log);
          printNodeModels(results, log);
          run.node.models = { plan, results };
        }
      } catch (e) {
        run.node.error = e instanceof Error ? (e.stack ?? e.message) : String(e);
        log(`node section failed: ${run.node.error}`);
      }
    } finally {
      ctx.destroy();
    }
    run.seconds.node = (performance.now() - tn) / 1000;
  }

  if (!skip.includes('browser')) {
    const tb = performance.now();
    log('\n== Chromium ==');
    try {
      // --skip browser-ops: whole models against wllama only, no ops against ONNX Runtime Web
      run.browser = await runBrowser(mode, log, { wllamaThreads: opts.wllamaThreads, ...(skip.includes('browser-ops') ? { plan: { ortBuilds: [] } } : {}) });
    } catch (e) {
      run.browser = { error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
      log(`browser section failed: ${run.browser.error}`);
    }
    run.seconds.browser = (performance.now() - tb) / 1000;
  }

  run.machine.loadavg.end = loadavg();
  run.seconds.total = (performance.now() - t0) / 1000;
  const adapter = run.node?.adapter ?? (run.browser && 'env' in run.browser ? run.browser.env.adapter : null);
  run.label = opts.label ?? slug(`${adapter ? `${adapter.vendor}-${adapter.architecture}` : 'unknown'}-${run.machine.cores}core`);
  mkdirSync(opts.out, { recursive: true });
  const base = join(opts.out, `${run.date.slice(0, 10)}-${run.label}-${mode}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(run, null, 1)}\n`);
  writeFileSync(`${base}.md`, renderMarkdown(run));
  writeFileSync(`${base}.html`, renderHtml(run));
  return { run, files: [`${base}.json`, `${base}.md`, `${base}.html`] };
}

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      tiny: { type: 'boolean', default: false },
      skip: { type: 'string', default: '' },
      out: { type: 'string', default: new URL('./results/', import.meta.url).pathname },
      label: { type: 'string' },
      'wllama-threads': { type: 'string' },
      models: { type: 'string' },
      formats: { type: 'string' },
      prompt: { type: 'string' },
      decode: { type: 'string' },
      repeats: { type: 'string' },
      bundle: { type: 'string' },
    },
  });
  if (flags.bundle) {
    const { writeBundle } = await import('./bundle.js');
    await writeBundle(flags.bundle, (s) => console.log(s));
    return;
  }
  const mode: Mode = flags.tiny ? 'tiny' : flags.quick ? 'quick' : 'full';
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const models: RunOptions['models'] = {
    ...(flags.models ? { models: flags.models.split(',') as ModelKey[] } : {}),
    ...(flags.formats ? { formats: flags.formats.toUpperCase().split(',') as GgufType[] } : {}),
    ...(flags.prompt ? { prompt: num(flags.prompt) } : {}),
    ...(flags.decode ? { decode: num(flags.decode) } : {}),
    ...(flags.repeats ? { repeats: num(flags.repeats) } : {}),
  };
  const { run, files } = await runBench({
    models, mode, skip: flags.skip.split(',').filter(Boolean), out: flags.out, label: flags.label, wllamaThreads: flags['wllama-threads'] ? Number(flags['wllama-threads']) : cpus().length, log: (s) => console.log(s) });
  console.log(`\n${run.seconds.total.toFixed(0)} s in all; wrote\n  ${files.join('\n  ')}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
