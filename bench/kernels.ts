/**
 * Kernel microbenchmarks on the adapter at hand: the roofline (streaming read, FMA), then our
 * matmuls at real model shapes, GEMV as weight GB/s and GEMM as GFLOP/s, each as a fraction of
 * that roofline. Absolute numbers on a CPU driver say little; the fractions say a lot.
 *
 *   npm run bench:kernels -- [--quick] [--m 64] [--json out.json] [--formats f32,q4_0] [--variant tiled|register]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { matmul, type MatmulVariant } from '../src/kernels/matmul.js';
import { measureRoofline, type Roofline } from '../src/kernels/roofline.js';
import { createStorage } from '../src/gpu/buffers.js';
import { isCpuAdapter, type GpuContext } from '../src/gpu/device.js';
import { StepUniform, encodeDispatches, type Dispatch } from '../src/gpu/dispatch.js';
import { createNodeGpuContext } from '../src/gpu/node.js';
import { timeKernel } from '../src/gpu/profiler.js';
import { destroyWeight, uploadWeight } from '../src/gpu/weights.js';
import { quantize, type WeightFormat } from '../src/reference/quant.js';

interface Shape {
  model: string;
  name: string;
  n: number;
  k: number;
  /** Only ever a GEMV: prefill computes logits for the last token alone (lastRowOnly). */
  gemvOnly?: boolean;
}

const SHAPES: Shape[] = [
  { model: 'SmolLM2-135M', name: 'q/o', n: 576, k: 576 },
  { model: 'SmolLM2-135M', name: 'gate/up', n: 1536, k: 576 },
  { model: 'SmolLM2-135M', name: 'down', n: 576, k: 1536 },
  { model: 'SmolLM2-135M', name: 'lm_head', n: 49152, k: 576, gemvOnly: true },
  { model: 'Qwen2.5-0.5B', name: 'q/o', n: 896, k: 896 },
  { model: 'Qwen2.5-0.5B', name: 'gate/up', n: 4864, k: 896 },
  { model: 'Qwen2.5-0.5B', name: 'down', n: 896, k: 4864 },
];
const FORMATS: WeightFormat[] = ['f32', 'f16', 'q8_0', 'q4_0'];

interface Result {
  model: string;
  name: string;
  n: number;
  k: number;
  format: WeightFormat;
  weightBytes: number;
  gemv: { ms: number; GBps: number; ofRead: number };
  gemm: { m: number; ms: number; gflops: number; ofFma: number } | null;
}

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    m: { type: 'string' },
    json: { type: 'string' },
    formats: { type: 'string' },
    variant: { type: 'string' },
  },
});

/** Uniform in [-1, 1), cheap and deterministic: benchmark data need not be good random numbers. */
function weights(n: number, k: number): Float32Array {
  const w = new Float32Array(n * k);
  let s = 12345;
  for (let i = 0; i < w.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    w[i] = s / 2 ** 31 - 1;
  }
  return w;
}

async function time(ctx: GpuContext, step: StepUniform, ds: Dispatch[], tokens: number, iters: number): Promise<number> {
  const s = { tokens, pos: 0, kvLen: tokens };
  step.write(s);
  return (await timeKernel(ctx, (enc, profiler) => encodeDispatches(enc, ds, s, profiler), iters)).ms;
}

const pct = (v: number): string => `${(100 * v).toFixed(0)}%`.padStart(5);
const num = (v: number, w = 8, d = 2): string => v.toFixed(d).padStart(w);
/** Three significant digits at most, for rates that span 0.001 (a CPU driver) to 1000s (a GPU). */
const rate = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3)).padStart(8);

async function main(): Promise<void> {
  const ctx = await createNodeGpuContext();
  const cpu = isCpuAdapter(ctx);
  const quick = flags.quick === true;
  const m = Number(flags.m ?? (cpu ? 64 : 256));
  const variant = (flags.variant as MatmulVariant | undefined) ?? (cpu ? 'register' : 'tiled');
  const formats = flags.formats ? (flags.formats.split(',') as WeightFormat[]) : FORMATS;
  if (!(Number.isInteger(m) && m > 1)) throw new Error(`--m must be an integer above 1, got ${flags.m}`);
  const unknown = formats.filter((f) => !FORMATS.includes(f));
  if (unknown.length) throw new Error(`unknown format(s) ${unknown.join(', ')}; use ${FORMATS.join(', ')}`);
  const shapes = quick ? SHAPES.filter((s) => s.model === 'SmolLM2-135M') : SHAPES;
  const iters = quick ? 2 : cpu ? 4 : 20;

  const info = ctx.adapterInfo;
  const feats = Object.entries(ctx.features).filter(([, on]) => on).map(([f]) => f);
  console.log(`adapter: ${info.vendor} ${info.architecture} ${info.device} (${info.description}); features: ${feats.join(', ') || 'none'}`);
  console.log(`matmul variant: ${variant}${cpu ? ' (CPU adapter)' : ''}; GEMM M=${m}; ${iters} timed runs each`);

  const roof: Roofline = await measureRoofline(
    ctx,
    cpu
      ? { readBytes: quick ? 32 << 20 : 64 << 20, iters: quick ? 2 : 3 }
      : { readBytes: 512 << 20, fmaThreads: 1 << 20, fmaIters: 2048, iters: 10 },
  );
  console.log(`roofline: read ${roof.readGBps.toFixed(2)} GB/s, FMA ${roof.fmaGflops.toFixed(2)} GFLOP/s (${roof.timing})\n`);

  const step = new StepUniform(ctx);
  const x = createStorage(ctx, m * Math.max(...shapes.map((s) => s.k)) * 4, 'x');
  const y = createStorage(ctx, m * Math.max(...shapes.map((s) => s.n)) * 4, 'y');
  const results: Result[] = [];
  console.log('model          matrix            format    MB |  GEMV ms     GB/s  of read |  GEMM ms  GFLOP/s  of FMA');
  for (const shape of shapes) {
    const { n, k } = shape;
    const dense = weights(n, k);
    for (const format of formats) {
      const w = uploadWeight(ctx, format, n, k, quantize(format, dense), { label: `${shape.name}.${format}` });
      const ds = matmul(ctx, { step: step.buffer, x, w, y, maxTokens: m, variant });
      const gemvMs = await time(ctx, step, ds, 1, iters);
      const GBps = w.bytes / (gemvMs * 1e6);
      let gemm: Result['gemm'] = null;
      if (!shape.gemvOnly) {
        const ms = await time(ctx, step, ds, m, iters);
        const gflops = (2 * m * n * k) / (ms * 1e6);
        gemm = { m, ms, gflops, ofFma: gflops / roof.fmaGflops };
      }
      const r: Result = { ...shape, format, weightBytes: w.bytes, gemv: { ms: gemvMs, GBps, ofRead: GBps / roof.readGBps }, gemm };
      results.push(r);
      const gemmCols = gemm ? `${num(gemm.ms, 8, 1)} ${rate(gemm.gflops)} ${pct(gemm.ofFma)}` : `${'-'.padStart(8)} ${'-'.padStart(8)} ${'-'.padStart(5)}`;
      console.log(
        `${shape.model.padEnd(14)} ${`${shape.name} ${n}x${k}`.padEnd(17)} ${format.padEnd(5)} ${num(w.bytes / 1e6, 6, 1)} |` +
          `${num(gemvMs, 8, 3)} ${rate(GBps)} ${pct(r.gemv.ofRead)}   |${gemmCols}`,
      );
      destroyWeight(w);
    }
  }

  if (flags.json) {
    const out = { date: new Date().toISOString(), adapter: info, features: ctx.features, variant, m, quick, roofline: roof, results };
    mkdirSync(dirname(flags.json), { recursive: true });
    writeFileSync(flags.json, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`\nwrote ${flags.json}`);
  }
  step.destroy();
  ctx.destroy();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
