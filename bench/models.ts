/**
 * Whole-model benchmark in Node (Dawn): prefill and decode tokens/s of random-weight models at
 * SmolLM2-135M and Qwen2.5-0.5B shapes in F16, Q8_0 and Q4_0 (and the real stories260K), the
 * dispatches per decoded token, decode as a fraction of the read roofline, and where the GPU time
 * goes (per-kernel timestamps of one decode step and one prefill).
 *
 *   npm run bench:models -- [--quick] [--models smollm2,qwen25,stories] [--formats F16,Q8_0,Q4_0]
 *                           [--prompt 128] [--decode 64] [--repeats 3] [--json out.json]
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { loadEngine } from '../src/engine/load.js';
import { isCpuAdapter, type GpuContext } from '../src/gpu/device.js';
import { createNodeGpuContext } from '../src/gpu/node.js';
import { resolveModelSource } from '../src/hub/resolve.js';
import type { Roofline } from '../src/kernels/roofline.js';
import type { WeightFormat } from '../src/quant/formats.js';
import { syntheticGgufFile, type GgufType } from './lib/gguf-file.js';
import { decodeBytesPerToken, gpuMatrixBytes, groupKernels, promptIds, type KernelFamily } from './lib/model-metrics.js';
import { roofline as measureRoof } from './lib/ours.js';
import { MODELS, syntheticSpec } from './lib/shapes.js';
import { spread, type Spread } from './lib/stats.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GEMMA3_270M, modelsDir, SMOLLM2_135M } from '../scripts/models.mjs';

export const STORIES_GGUF = new URL('../../shared/models/stories260K/stories260K.gguf', import.meta.url).pathname;

/** A file's ggml type: the synthetic ones come in any type the fixtures write, the real ones as fetched. */
export type BenchType = GgufType;

export interface ModelFile {
  /** Display name, e.g. 'SmolLM2-135M'. */
  model: string;
  /** GGUF tensor type of the matrices. */
  type: BenchType;
  /** The embedding table's format on the GPU. */
  embedFormat: WeightFormat;
  path: string;
  tied: boolean;
  vocab: number;
  hidden: number;
  layers: number;
  kvHeads: number;
  headDim: number;
}

/**
 * 'smollm2-instruct' is the real SmolLM2-135M-Instruct Q4_1 file and 'gemma3' the real Gemma 3 270M
 * Q4_K_M (scripts/fetch-models.sh); 'smollm2', 'qwen25' and 'llama32' (Llama-3.2-1B) are random
 * weights at their shapes.
 */
export type ModelKey = 'stories' | 'smollm2' | 'qwen25' | 'llama32' | 'smollm2-instruct' | 'gemma3';

/** The format each real file comes in (the synthetic ones take the plan's formats). */
export const REAL_TYPES: Partial<Record<ModelKey, BenchType>> = { stories: 'F32', 'smollm2-instruct': 'Q4_1', gemma3: 'Q4_K_M' };

function fetched(name: string): string {
  const path = join(modelsDir(), name);
  if (!existsSync(path)) throw new Error(`${path} is missing: run bash scripts/fetch-models.sh`);
  return path;
}

/** The GGUF file of a benchmark model, generated (and cached) for the synthetic ones. */
export function modelFile(key: ModelKey, type: BenchType, log: (s: string) => void = () => {}): ModelFile {
  if (key === 'stories') return { model: 'stories260K', type: 'F32', embedFormat: 'f32', path: STORIES_GGUF, tied: false, vocab: 512, hidden: 64, layers: 5, kvHeads: 4, headDim: 8 };
  if (key === 'gemma3') {
    // Gemma 3 270M: 18 layers of 640, 4 query heads and 1 KV head of 256, a 262,144-token tied
    // embedding (Q8_0 in this file; its matrices are Q5_0, Q4_K, Q6_K and Q8_0 mixed)
    return { model: 'Gemma-3-270M', type: 'Q4_K_M', embedFormat: 'q8_0', path: fetched(GEMMA3_270M), tied: true, vocab: 262144, hidden: 640, layers: 18, kvHeads: 1, headDim: 256 };
  }
  if (key === 'smollm2-instruct') {
    const path = fetched(SMOLLM2_135M);
    const m = MODELS.smollm2;
    // token_embd (the tied lm_head) is Q8_0 in this file, its matrices Q4_1
    return { model: 'SmolLM2-135M-Instruct', type: 'Q4_1', embedFormat: 'q8_0', path, tied: true, vocab: m.vocab, hidden: m.hidden, layers: m.layers, kvHeads: m.kvHeads, headDim: m.headDim };
  }
  const m = MODELS[key];
  const path = syntheticGgufFile({ smollm2: 'smollm2-135m', qwen25: 'qwen2.5-0.5b', llama32: 'llama-3.2-1b' }[key], syntheticSpec(m), type, log);
  return { model: m.name, type, embedFormat: type.toLowerCase() as WeightFormat, path, tied: m.tied, vocab: m.vocab, hidden: m.hidden, layers: m.layers, kvHeads: m.kvHeads, headDim: m.headDim };
}

/**
 * Engine.profile() asks for a GpuProfiler of 8192 passes, a query set of 16384 timestamps, above
 * WebGPU's limit of 4096 (src/engine/engine.ts; reported). Until that is fixed, clamp the query
 * set it creates: a forward pass of our models has far fewer than 2048 dispatches, so the indices
 * it uses stay in range.
 */
export async function profileEngine<T>(ctx: GpuContext, run: () => Promise<T>): Promise<T> {
  const device = ctx.device;
  const create = device.createQuerySet.bind(device);
  device.createQuerySet = (d: GPUQuerySetDescriptor) => create({ ...d, count: Math.min(d.count, 4096) });
  try {
    return await run();
  } finally {
    device.createQuerySet = create;
  }
}

export interface ModelRunOptions {
  prompt: number;
  decode: number;
  repeats: number;
  profile: boolean;
}

export interface NodeModelResult {
  model: string;
  format: BenchType;
  fileBytes: number;
  weightBytes: number;
  dispatchesPerToken: number;
  loadMs: number;
  promptTokens: number;
  decodeTokens: number;
  prefillTokPerS: Spread;
  decodeTokPerS: Spread;
  decodeMsPerToken: Spread;
  bytesPerToken: { weights: number; kv: number; total: number };
  /** Decode's read rate (bytesPerToken / time per token) over the measured read bandwidth. */
  ofReadRoofline: Spread;
  profile: { decode: KernelFamily[]; prefill: KernelFamily[]; decodeMs: number; prefillMs: number } | null;
}

/** Load `f` on `ctx`, warm up, then `repeats` generations of `prompt` + `decode` tokens, greedy. */
export async function benchModelFile(ctx: GpuContext, f: ModelFile, roof: Roofline, o: ModelRunOptions, log: (s: string) => void = () => {}): Promise<NodeModelResult> {
  const t0 = performance.now();
  const engine = await loadEngine(ctx, await resolveModelSource(f.path), { contextLength: o.prompt + o.decode + 8 });
  const loadMs = performance.now() - t0;
  try {
    const info = engine.info;
    // warm-up: SwiftShader compiles a pipeline's machine code at its first dispatch
    await engine.generate({ promptIds: promptIds(Math.min(o.prompt, 4), f.vocab, 999), maxTokens: 2, sampling: { temperature: 0 }, stopIds: [] });
    const prefill: number[] = [];
    const decode: number[] = [];
    for (let r = 0; r < o.repeats; r++) {
      const res = await engine.generate({ promptIds: promptIds(o.prompt, f.vocab, r), maxTokens: o.decode, sampling: { temperature: 0 }, stopIds: [], seed: 1 });
      if (res.usage.reusedTokens) throw new Error(`${f.model}: the prompt reused ${res.usage.reusedTokens} cached tokens`);
      prefill.push(res.timings.prefillTokensPerSecond);
      decode.push(res.timings.decodeTokensPerSecond);
      log(`  ${f.model} ${f.type} run ${r + 1}/${o.repeats}: prefill ${res.timings.prefillTokensPerSecond.toFixed(2)} tok/s, decode ${res.timings.decodeTokensPerSecond.toFixed(2)} tok/s`);
    }
    const embedFormat = f.embedFormat;
    const bytes = decodeBytesPerToken({
      weightBytes: info.weightBytes,
      tied: f.tied,
      embedBytes: gpuMatrixBytes(embedFormat, f.vocab, f.hidden),
      layers: f.layers,
      kvHeads: f.kvHeads,
      headDim: f.headDim,
      kvLen: o.prompt + o.decode / 2,
    });
    let profile: NodeModelResult['profile'] = null;
    if (o.profile && ctx.features.timestampQuery) {
      const dec = await profileEngine(ctx, () => engine.profile([5], o.prompt));
      const pre = await profileEngine(ctx, () => engine.profile(promptIds(Math.min(o.prompt, 128), f.vocab, 77), 0));
      profile = { decode: groupKernels(dec), prefill: groupKernels(pre), decodeMs: dec.reduce((s, k) => s + k.ms, 0), prefillMs: pre.reduce((s, k) => s + k.ms, 0) };
    }
    const msPerToken = decode.map((d) => 1000 / d);
    return {
      model: f.model,
      format: f.type,
      fileBytes: statSync(f.path).size,
      weightBytes: info.weightBytes,
      dispatchesPerToken: info.dispatchesPerToken,
      loadMs,
      promptTokens: o.prompt,
      decodeTokens: o.decode,
      prefillTokPerS: spread(prefill),
      decodeTokPerS: spread(decode),
      decodeMsPerToken: spread(msPerToken),
      bytesPerToken: bytes,
      ofReadRoofline: spread(msPerToken.map((ms) => bytes.total / (ms * 1e6) / roof.readGBps)),
      profile,
    };
  } finally {
    await engine.unload();
  }
}

export interface NodeModelPlan {
  models: ModelKey[];
  formats: GgufType[];
  run: ModelRunOptions;
}

/** What --quick and the full run measure, by adapter: a CPU driver gets short prompts and few tokens. */
export function nodeModelPlan(mode: 'tiny' | 'quick' | 'full', cpu: boolean): NodeModelPlan {
  if (mode === 'tiny') return { models: ['stories'], formats: [], run: { prompt: 8, decode: 4, repeats: 2, profile: true } };
  if (mode === 'quick') return { models: ['stories', 'smollm2', 'smollm2-instruct', 'gemma3'], formats: ['Q4_0'], run: { prompt: 8, decode: 4, repeats: 2, profile: true } };
  return { models: ['stories', 'smollm2', 'qwen25', 'smollm2-instruct', 'gemma3'], formats: ['F16', 'Q8_0', 'Q4_0'], run: cpu ? { prompt: 32, decode: 8, repeats: 3, profile: true } : { prompt: 128, decode: 64, repeats: 5, profile: true } };
}

export async function runNodeModels(ctx: GpuContext, roof: Roofline, plan: NodeModelPlan, log: (s: string) => void): Promise<NodeModelResult[]> {
  const out: NodeModelResult[] = [];
  for (const key of plan.models) {
    for (const type of REAL_TYPES[key] ? [REAL_TYPES[key]] : plan.formats) {
      const f = modelFile(key, type, log);
      out.push(await benchModelFile(ctx, f, roof, plan.run, log));
    }
  }
  return out;
}

const fmt = (v: number, d = 2): string => (Number.isFinite(v) ? v.toFixed(d) : '-');

export function printNodeModels(rs: NodeModelResult[], log: (s: string) => void): void {
  log('model          format  weights MB  prompt  prefill tok/s    decode tok/s     ms/token  of read  dispatches/token');
  for (const r of rs) {
    log(
      `${r.model.padEnd(14)} ${r.format.padEnd(6)} ${fmt(r.weightBytes / 1e6, 1).padStart(10)} ${String(r.promptTokens).padStart(7)}  ` +
        `${fmt(r.prefillTokPerS.median).padStart(8)} ±${fmt((r.prefillTokPerS.max - r.prefillTokPerS.min) / 2).padEnd(6)} ` +
        `${fmt(r.decodeTokPerS.median).padStart(8)} ±${fmt((r.decodeTokPerS.max - r.decodeTokPerS.min) / 2).padEnd(6)} ` +
        `${fmt(r.decodeMsPerToken.median, 1).padStart(8)} ${`${(100 * r.ofReadRoofline.median).toFixed(0)}%`.padStart(7)}  ${r.dispatchesPerToken}`,
    );
  }
}

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      models: { type: 'string' },
      formats: { type: 'string' },
      prompt: { type: 'string' },
      decode: { type: 'string' },
      repeats: { type: 'string' },
      json: { type: 'string' },
      'no-profile': { type: 'boolean', default: false },
    },
  });
  const ctx = await createNodeGpuContext();
  const plan = nodeModelPlan(flags.quick === true ? 'quick' : 'full', isCpuAdapter(ctx));
  if (flags.models) plan.models = flags.models.split(',') as ModelKey[];
  if (flags.formats) plan.formats = flags.formats.split(',').map((s) => s.toUpperCase()) as GgufType[];
  if (flags.prompt) plan.run.prompt = Number(flags.prompt);
  if (flags.decode) plan.run.decode = Number(flags.decode);
  if (flags.repeats) plan.run.repeats = Number(flags.repeats);
  if (flags['no-profile']) plan.run.profile = false;
  const info = ctx.adapterInfo;
  console.log(`adapter: ${info.vendor} ${info.architecture} ${info.device} (${info.description})`);
  const roof = await measureRoof(ctx, flags.quick === true);
  console.log(`roofline: read ${roof.readGBps.toFixed(2)} GB/s, FMA ${roof.fmaGflops.toFixed(2)} GFLOP/s`);
  console.log(`prompt ${plan.run.prompt} tokens, decode ${plan.run.decode}, ${plan.run.repeats} repeats (median, ± half the range)\n`);
  const rs = await runNodeModels(ctx, roof, plan, (s) => console.log(s));
  console.log('');
  printNodeModels(rs, (s) => console.log(s));
  for (const r of rs) {
    if (!r.profile) continue;
    const top = r.profile.decode.slice(0, 6).map((k) => `${k.family} ${(100 * k.share).toFixed(0)}%`);
    console.log(`  ${r.model} ${r.format} decode step ${r.profile.decodeMs.toFixed(1)} ms GPU: ${top.join(', ')}`);
  }
  if (flags.json) {
    mkdirSync(dirname(flags.json), { recursive: true });
    writeFileSync(flags.json, `${JSON.stringify({ date: new Date().toISOString(), adapter: info, features: ctx.features, roofline: roof, plan, results: rs }, null, 2)}\n`);
    console.log(`\nwrote ${flags.json}`);
  }
  ctx.destroy();
}

// (in the GPU bundle every module shares bench.mjs's URL: bench/bundle.ts marks it, and gpu.ts is its entry)
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && !(globalThis as { __HEARTH_BUNDLE__?: boolean }).__HEARTH_BUNDLE__) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
