/**
 * Kernel microbenchmarks on the adapter at hand: the roofline (streaming read, FMA), then our
 * matmuls at real model shapes, GEMV as weight GB/s and GEMM as GFLOP/s, and attention (with its
 * KV append) in decode and prefill at several KV lengths, each as a fraction of that roofline.
 * Absolute numbers on a CPU driver say little; the fractions say a lot. GPU timestamps where the
 * adapter has them, else wall clock.
 *
 *   npm run bench:kernels -- [--quick] [--m 64] [--json out.json] [--formats f32,q4_0] [--variant tiled|register]
 *                            [--models smollm2,qwen25,llama32] [--no-attention] [--int-dot]
 * (--formats takes any of src/quant's formats: q4_1, q5_0, q4_k, q5_k, q6_k too; --int-dot: GEMVs
 * on int8-packed input rows, kernels/matmul.ts intDot, timed with their packing launch)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import type { MatmulVariant } from '../src/kernels/matmul.js';
import type { Roofline } from '../src/kernels/roofline.js';
import { isCpuAdapter, type GpuContext } from '../src/gpu/device.js';
import { createNodeGpuContext } from '../src/gpu/node.js';
import { FORMATS as WEIGHT_SPECS, WEIGHT_FORMATS, type WeightFormat } from '../src/quant/formats.js';
import { prepareAttention, prepareMatmul, roofline, type AttentionCase, type TimedOp } from './lib/ours.js';
import { MODELS, attentionShape, matmulShapes, type MatmulShape, type ModelKey } from './lib/shapes.js';
import { spread, type Spread } from './lib/stats.js';

const FORMATS: WeightFormat[] = ['f32', 'f16', 'q8_0', 'q4_0'];

export interface KernelPlan {
  models: ModelKey[];
  /** Only these matrices (by name, e.g. 'q/o'); all when absent. */
  shapes?: string[];
  formats: WeightFormat[];
  /** Rows of the GEMM (a prefill chunk). */
  m: number;
  variant: MatmulVariant;
  /** GEMVs with integer dot products (MatmulArgs.intDot). */
  intDot?: boolean;
  lmHead: boolean;
  attention: { decode: number[]; prefill: number[] } | null;
  /** Timed runs per measurement, and measurements per figure. */
  iters: number;
  repeats: number;
}

export function kernelPlan(mode: 'tiny' | 'quick' | 'full', cpu: boolean): KernelPlan {
  if (mode === 'tiny') return { models: ['smollm2'], shapes: ['q/o'], formats: ['q4_0'], m: 8, variant: cpu ? 'register' : 'tiled', lmHead: false, attention: { decode: [64], prefill: [] }, iters: 1, repeats: 2 };
  if (mode === 'quick') return { models: ['smollm2'], formats: FORMATS, m: cpu ? 32 : 256, variant: cpu ? 'register' : 'tiled', lmHead: true, attention: { decode: [256, 1024], prefill: [128] }, iters: 2, repeats: 2 };
  return {
    models: ['smollm2', 'qwen25', 'llama32'],
    formats: FORMATS,
    m: cpu ? 64 : 256,
    variant: cpu ? 'register' : 'tiled',
    lmHead: true,
    attention: { decode: [512, 2048, 8192], prefill: cpu ? [128, 512] : [512, 2048] },
    iters: cpu ? 3 : 20,
    repeats: cpu ? 3 : 5,
  };
}

export interface MatmulResult {
  model: string;
  name: string;
  n: number;
  k: number;
  format: WeightFormat;
  weightBytes: number;
  gemv: { ms: Spread; GBps: Spread; ofRead: Spread };
  gemm: { m: number; ms: Spread; gflops: Spread; ofFma: Spread } | null;
}

export interface AttentionResult {
  model: string;
  mode: 'decode' | 'prefill';
  kvLen: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ms: Spread;
  GBps: Spread;
  gflops: Spread;
  ofRead: Spread;
  ofFma: Spread;
}

export interface KernelResults {
  timing: 'timestamp' | 'wallclock';
  plan: KernelPlan;
  matmul: MatmulResult[];
  attention: AttentionResult[];
}

/** ms per run, `repeats` times: GPU timestamps where there are any, else wall clock. */
async function times(op: TimedOp, iters: number, repeats: number): Promise<number[]> {
  await op.wall(1); // warm-up
  const out: number[] = [];
  for (let r = 0; r < repeats; r++) out.push((await op.gpu(iters)) ?? (await op.wall(iters)));
  return out;
}

export async function runNodeKernels(ctx: GpuContext, roof: Roofline, plan: KernelPlan, log: (s: string) => void): Promise<KernelResults> {
  const res: KernelResults = { timing: ctx.features.timestampQuery ? 'timestamp' : 'wallclock', plan, matmul: [], attention: [] };
  const pct = (v: number): string => `${(100 * v).toFixed(0)}%`.padStart(5);
  const rate = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3)).padStart(8);
  log(`matmul variant ${plan.variant}, GEMM M=${plan.m}; ${plan.iters} runs per measurement, ${plan.repeats} measurements (median)`);
  log('model          matrix              format    MB |  GEMV ms     GB/s  of read |  GEMM ms  GFLOP/s  of FMA');
  const shapes: MatmulShape[] = plan.models.flatMap((m) => matmulShapes(MODELS[m], plan.lmHead)).filter((s) => !plan.shapes || plan.shapes.includes(s.name));
  for (const shape of shapes) {
    for (const format of plan.formats) {
      // k-quants need rows of whole 256-value blocks (SmolLM2's 576 are not: llama.cpp falls back too)
      if (shape.k % WEIGHT_SPECS[format].block) continue;
      const gemvOp = prepareMatmul(ctx, { n: shape.n, k: shape.k, format, tokens: 1, variant: plan.variant, intDot: plan.intDot });
      const gemvMs = spread(await times(gemvOp, plan.iters, plan.repeats));
      const weightBytes = gemvOp.weightBytes;
      gemvOp.destroy();
      let gemm: MatmulResult['gemm'] = null;
      if (!shape.gemvOnly) {
        const op = prepareMatmul(ctx, { n: shape.n, k: shape.k, format, tokens: plan.m, variant: plan.variant });
        const ms = spread(await times(op, plan.iters, plan.repeats));
        const gflops = spread(ms.samples.map((t) => op.flops / (t * 1e6)));
        gemm = { m: plan.m, ms, gflops, ofFma: spread(gflops.samples.map((g) => g / roof.fmaGflops)) };
        op.destroy();
      }
      const GBps = spread(gemvMs.samples.map((t) => weightBytes / (t * 1e6)));
      const r: MatmulResult = { ...shape, format, weightBytes, gemv: { ms: gemvMs, GBps, ofRead: spread(GBps.samples.map((g) => g / roof.readGBps)) }, gemm };
      res.matmul.push(r);
      const gemmCols = gemm ? `${gemm.ms.median.toFixed(1).padStart(8)} ${rate(gemm.gflops.median)} ${pct(gemm.ofFma.median)}` : `${'-'.padStart(8)} ${'-'.padStart(8)} ${'-'.padStart(5)}`;
      log(
        `${shape.model.padEnd(14)} ${`${shape.name} ${shape.n}x${shape.k}`.padEnd(19)} ${format.padEnd(5)} ${(weightBytes / 1e6).toFixed(1).padStart(6)} |` +
          `${gemvMs.median.toFixed(3).padStart(8)} ${rate(GBps.median)} ${pct(r.gemv.ofRead.median)}   |${gemmCols}`,
      );
    }
  }
  if (plan.attention) {
    log('\nmodel          attention  KV len |       ms     GB/s  of read  GFLOP/s  of FMA');
    for (const key of plan.models) {
      const shape = attentionShape(MODELS[key]);
      const cases: AttentionCase[] = [
        ...plan.attention.decode.map((kvLen) => ({ ...shape, mode: 'decode' as const, kvLen })),
        ...plan.attention.prefill.map((kvLen) => ({ ...shape, mode: 'prefill' as const, kvLen })),
      ];
      for (const c of cases) {
        const op = prepareAttention(ctx, c);
        const ms = spread(await times(op, plan.iters, plan.repeats));
        const GBps = spread(ms.samples.map((t) => op.bytes / (t * 1e6)));
        const gflops = spread(ms.samples.map((t) => op.flops / (t * 1e6)));
        op.destroy();
        const r: AttentionResult = {
          model: c.model,
          mode: c.mode,
          kvLen: c.kvLen,
          heads: c.heads,
          kvHeads: c.kvHeads,
          headDim: c.headDim,
          ms,
          GBps,
          gflops,
          ofRead: spread(GBps.samples.map((g) => g / roof.readGBps)),
          ofFma: spread(gflops.samples.map((g) => g / roof.fmaGflops)),
        };
        res.attention.push(r);
        log(`${c.model.padEnd(14)} ${c.mode.padEnd(9)} ${String(c.kvLen).padStart(7)} | ${ms.median.toFixed(3).padStart(8)} ${rate(GBps.median)} ${pct(r.ofRead.median)}  ${rate(gflops.median)} ${pct(r.ofFma.median)}`);
      }
    }
  }
  return res;
}

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      m: { type: 'string' },
      json: { type: 'string' },
      formats: { type: 'string' },
      variant: { type: 'string' },
      models: { type: 'string' },
      'no-attention': { type: 'boolean', default: false },
      'int-dot': { type: 'boolean', default: false },
    },
  });
  const ctx = await createNodeGpuContext();
  const quick = flags.quick === true;
  const plan = kernelPlan(quick ? 'quick' : 'full', isCpuAdapter(ctx));
  if (flags.m) plan.m = Number(flags.m);
  if (flags.variant) plan.variant = flags.variant as MatmulVariant;
  if (flags.formats) plan.formats = flags.formats.split(',') as WeightFormat[];
  if (flags.models) plan.models = flags.models.split(',') as ModelKey[];
  if (flags['no-attention']) plan.attention = null;
  plan.intDot = flags['int-dot'];
  if (!(Number.isInteger(plan.m) && plan.m > 1)) throw new Error(`--m must be an integer above 1, got ${flags.m}`);
  const unknown = plan.formats.filter((f) => !WEIGHT_FORMATS.includes(f));
  if (unknown.length) throw new Error(`unknown format(s) ${unknown.join(', ')}; use ${WEIGHT_FORMATS.join(', ')}`);
  const badModels = plan.models.filter((m) => !(m in MODELS));
  if (badModels.length) throw new Error(`unknown model(s) ${badModels.join(', ')}; use ${Object.keys(MODELS).join(', ')}`);

  const info = ctx.adapterInfo;
  const feats = Object.entries(ctx.features).filter(([, on]) => on).map(([f]) => f);
  console.log(`adapter: ${info.vendor} ${info.architecture} ${info.device} (${info.description}); features: ${feats.join(', ') || 'none'}`);
  const roof = await roofline(ctx, quick);
  console.log(`roofline: read ${roof.readGBps.toFixed(2)} GB/s, FMA ${roof.fmaGflops.toFixed(2)} GFLOP/s (${roof.timing})\n`);
  const res = await runNodeKernels(ctx, roof, plan, (s) => console.log(s));
  if (flags.json) {
    const out = { date: new Date().toISOString(), adapter: info, features: ctx.features, quick, roofline: roof, ...res };
    mkdirSync(dirname(flags.json), { recursive: true });
    writeFileSync(flags.json, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`\nwrote ${flags.json}`);
  }
  ctx.destroy();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
