/**
 * Decode GEMV time per weight format at a model's shapes, every format and path measured in the
 * same run, alternated repeat by repeat (a shared CPU driver's speed drifts): q8_0, what Q4_1, Q5_0
 * and the k-quants were widened to before their kernels, against each format read as stored, with
 * f32 activations and with integer dot products (MatmulArgs.intDot, its packing launch included).
 * Median GPU time (timestamps where the adapter has them, else wall clock) and weight GB/s; with
 * --tokens above 1, the prefill GEMM over that many rows of x and its GFLOP/s.
 *
 *   node --import tsx --import ./scripts/register-raw.mjs bench/gemv-formats.ts [--model smollm2] [--formats q8_0,q4_0,...] [--shapes lm_head,...] [--tokens 1] [--repeats 5] [--iters 3]
 * Prints Markdown.
 */
import { parseArgs } from 'node:util';
import { isCpuAdapter } from '../src/gpu/device.js';
import { createNodeGpuContext } from '../src/gpu/node.js';
import { FORMATS, type WeightFormat } from '../src/quant/formats.js';
import { prepareMatmul, type TimedOp } from './lib/ours.js';
import { MODELS, matmulShapes, type ModelKey } from './lib/shapes.js';
import { spread } from './lib/stats.js';

const { values } = parseArgs({ options: { model: { type: 'string', default: 'smollm2' }, formats: { type: 'string', default: 'q8_0,q4_0,q4_1,q5_0,q4_k,q5_k,q6_k' }, shapes: { type: 'string' }, repeats: { type: 'string', default: '5' }, tokens: { type: 'string', default: '1' }, iters: { type: 'string', default: '3' } } });
const ctx = await createNodeGpuContext();
const variant = isCpuAdapter(ctx) ? 'register' : 'tiled';
const formats = values.formats.split(',') as WeightFormat[];
const repeats = Number(values.repeats);
const iters = Number(values.iters);
const tokens = Number(values.tokens); // rows of x: 1 is the decode GEMV, more a prefill GEMM (no int8 path)
const info = ctx.adapterInfo;
console.log(`adapter: ${info.vendor} ${info.architecture} (${info.description}), ${variant} kernels, packed_4x8_integer_dot_product: ${ctx.features.packedDot4x8}; median of ${repeats} x ${iters} runs\n`);
if (tokens === 1) {
  console.log(`| matrix | format | MB | f32 GEMV ms | GB/s | int8 GEMV ms | GB/s | int8 / f32 time | f32 time / ${formats[0]} f32 time |`);
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
} else {
  console.log(`| matrix | format | MB | GEMM ms (${tokens} rows) | GFLOP/s | time / ${formats[0]} time |`);
  console.log('| --- | --- | --- | --- | --- | --- |');
}
for (const shape of matmulShapes(MODELS[values.model as ModelKey], true)) {
  if (values.shapes && !values.shapes.split(',').includes(shape.name)) continue;
  const ops: { format: WeightFormat; int: boolean; op: TimedOp & { weightBytes: number }; ms: number[] }[] = [];
  for (const format of formats) {
    if (shape.k % FORMATS[format].block) continue;
    for (const int of tokens === 1 ? [false, true] : [false]) ops.push({ format, int, op: prepareMatmul(ctx, { n: shape.n, k: shape.k, format, tokens, variant, intDot: int }), ms: [] });
  }
  for (const o of ops) await o.op.wall(1); // warm-up (pipelines)
  for (let r = 0; r < repeats; r++) for (const o of ops) o.ms.push((await o.op.gpu(iters)) ?? (await o.op.wall(iters)));
  const med = (o: (typeof ops)[number]) => spread(o.ms).median;
  const base = med(ops.find((o) => o.format === formats[0] && !o.int)!);
  for (const format of formats) {
    const f = ops.find((o) => o.format === format && !o.int);
    const i = ops.find((o) => o.format === format && o.int);
    if (!f) continue;
    const mb = f.op.weightBytes / 1e6;
    const gbps = (ms: number) => (f.op.weightBytes / (ms * 1e6)).toFixed(3);
    if (!i) {
      const gflops = (2 * tokens * shape.n * shape.k) / (med(f) * 1e6);
      console.log(`| ${shape.name} ${shape.n}x${shape.k} | ${format} | ${mb.toFixed(2)} | ${med(f).toFixed(3)} | ${gflops.toFixed(2)} | ${(med(f) / base).toFixed(2)} |`);
      continue;
    }
    console.log(`| ${shape.name} ${shape.n}x${shape.k} | ${format} | ${mb.toFixed(2)} | ${med(f).toFixed(3)} | ${gbps(med(f))} | ${med(i).toFixed(3)} | ${gbps(med(i))} | ${(med(i) / med(f)).toFixed(2)} | ${(med(f) / base).toFixed(2)} |`);
  }
  for (const o of ops) o.op.destroy();
}
ctx.destroy();
process.exit(0);
