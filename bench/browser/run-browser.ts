/**
 * Drives the in-browser benchmark: headless Chromium (the system's, with WebGPU; SwiftShader when
 * there is no GPU) on the bench page, one small page.evaluate step at a time. Ours and theirs are
 * prepared side by side, then measured alternately (ours first on even repeats, theirs first on
 * odd ones) so that drift on a busy machine falls on both.
 */
import { chromium, type Browser, type Page } from 'playwright';
import { CHROMIUM, CHROMIUM_ARGS } from '../../test/helpers/browser.js';
import type { Roofline } from '../../src/kernels/roofline.js';
import type { WeightFormat } from '../../src/quant/formats.js';
import type { AttentionCase, MatmulCase } from '../lib/ours.js';
import { MODELS, attentionShape, matmulShapes, type ModelKey as ShapeKey } from '../lib/shapes.js';
import { spread, type Spread } from '../lib/stats.js';
import { decodeBytesPerToken, gpuMatrixBytes, type KernelFamily } from '../lib/model-metrics.js';
import { modelFile, type BenchType, type ModelKey } from '../models.js';
import type { GgufType } from '../lib/gguf-file.js';
import type { BenchApi } from './page.js';
import type { OrtBuild, OrtMatmulKind } from './ort.js';
import type { PassTiming } from './pass-timer.js';
import type { WllamaGen, WllamaInfo } from './wllama.js';
import { startBenchServer, type BenchServer } from './server.js';

type Reply<T> = { ok: true; value: T } | { ok: false; error: string };
type Unwrap<F> = F extends (...a: never[]) => Promise<Reply<infer T>> ? T : never;

export interface BrowserPlan {
  ortBuilds: OrtBuild[];
  ops: {
    models: ShapeKey[];
    /** Only these matrices (by name, e.g. 'q/o'); all when absent. */
    shapes?: string[];
    gemvFormats: PeerFormat[];
    /**
     * GEMV formats also run with our GPU-style 'tiled' kernels, against the same ORT op: on a CPU
     * adapter Hearth picks barrier-free 'register' kernels that ORT has no counterpart of, and this
     * shows how GPU-style kernels of both compare there.
     */
    tiledGemvFormats?: PeerFormat[];
    gemmFormats: PeerFormat[];
    /** Rows of the GEMM. */
    m: number;
    lmHead: boolean;
    attention: { decode: number[]; prefill: number[] };
  };
  /** Aim for this much wall time per measurement; at most maxIters runs. */
  targetMs: number;
  maxIters: number;
  repeats: number;
  /** GPU timestamps at every repeat (else once per op). */
  gpuEveryRepeat: boolean;
  models: { key: ModelKey; type: BenchType }[];
  prompt: number;
  decode: number;
  modelRepeats: number;
  roofRepeats: number;
}

export function browserPlan(mode: 'tiny' | 'quick' | 'full', cpu: boolean): BrowserPlan {
  if (mode === 'tiny') {
    return {
      ortBuilds: ['webgpu'],
      ops: { models: ['smollm2'], shapes: ['q/o'], gemvFormats: ['q4_0'], gemmFormats: [], m: 8, lmHead: false, attention: { decode: [64], prefill: [] } },
      targetMs: 20,
      maxIters: 2,
      repeats: 2,
      gpuEveryRepeat: false,
      models: [{ key: 'stories', type: 'F32' }],
      prompt: 8,
      decode: 4,
      modelRepeats: 2,
      roofRepeats: 1,
    };
  }
  if (mode === 'quick') {
    return {
      ortBuilds: ['webgpu'],
      ops: { models: ['smollm2'], gemvFormats: ['f32', 'f16', 'q8_0', 'q4_0'], tiledGemvFormats: cpu ? ['f32', 'q4_0'] : [], gemmFormats: ['f32', 'q4_0'], m: 16, lmHead: false, attention: { decode: [256, 1024], prefill: [128] } },
      targetMs: 250,
      maxIters: 20,
      repeats: 3,
      gpuEveryRepeat: false,
      models: [
        { key: 'stories', type: 'F32' },
        { key: 'smollm2', type: 'Q4_0' },
        { key: 'smollm2-instruct', type: 'Q4_1' },
        { key: 'gemma3', type: 'Q4_K_M' },
      ],
      prompt: 16,
      decode: 8,
      modelRepeats: 2,
      roofRepeats: 3,
    };
  }
  return {
    ortBuilds: ['webgpu', 'jsep'],
    ops: {
      models: ['smollm2', 'qwen25', 'llama32'],
      gemvFormats: ['f32', 'f16', 'q8_0', 'q4_0'],
      tiledGemvFormats: cpu ? ['f32', 'f16', 'q8_0', 'q4_0'] : [],
      gemmFormats: ['f32', 'f16', 'q8_0', 'q4_0'],
      m: cpu ? 64 : 256,
      lmHead: !cpu,
      attention: { decode: [512, 2048, 8192], prefill: cpu ? [128, 512] : [512, 2048] },
    },
    targetMs: cpu ? 500 : 200,
    maxIters: cpu ? 20 : 200,
    repeats: cpu ? 3 : 7,
    gpuEveryRepeat: !cpu,
    models: [
      { key: 'stories', type: 'F32' },
      ...(['smollm2', 'qwen25'] as const).flatMap((key) => (['F16', 'Q8_0', 'Q4_0'] as const).map((type) => ({ key, type }))),
      { key: 'smollm2-instruct', type: 'Q4_1' },
      { key: 'gemma3', type: 'Q4_K_M' },
    ],
    prompt: cpu ? 32 : 128,
    decode: cpu ? 16 : 64,
    modelRepeats: 3,
    roofRepeats: 3,
  };
}

/** Our weight formats ORT has an op for (MatMul in f32/f16, MatMulNBits in 8 and 4 bits). */
type PeerFormat = Extract<WeightFormat, 'f32' | 'f16' | 'q8_0' | 'q4_0'>;

/** ORT's op for each of them. */
const PEER_KIND: Record<PeerFormat, OrtMatmulKind> = { f32: 'MatMul-f32', f16: 'MatMul-f16', q8_0: 'MatMulNBits-8', q4_0: 'MatMulNBits-4' };

export interface SideFigures {
  wallMs: Spread;
  gpuMs: Spread | null;
}

export interface OpComparison {
  op: 'gemv' | 'gemm' | 'attention-decode' | 'attention-prefill';
  model: string;
  name: string;
  /** Matmul: [n, k], rows m; attention: KV length. */
  n?: number;
  k?: number;
  m?: number;
  kvLen?: number;
  format: WeightFormat | 'f32-kv';
  /** Our kernel family when forced (else the one Hearth picks for the adapter). */
  variant?: 'tiled' | 'register';
  peer: { build: OrtBuild; op: string };
  bytes: number;
  flops: number;
  ours: (SideFigures & { GBps: number; gflops: number; ofRead: number; ofFma: number }) | { error: string };
  theirs: (SideFigures & { weightBytes: number; passes: Record<string, number> | null; GBps: number; gflops: number }) | { error: string };
  /** Speed ratios (their time / our time, medians): above 1, we are faster. */
  speedup: { wall: number | null; gpu: number | null };
}

export interface ModelComparison {
  model: string;
  format: BenchType;
  promptTokens: number;
  decodeTokens: number;
  ours:
    | {
        loadMs: number;
        weightBytes: number;
        dispatchesPerToken: number;
        prefillTokPerS: Spread;
        decodeTokPerS: Spread;
        bytesPerToken: number;
        ofReadRoofline: Spread;
        /** GPU time of one decode step by kernel family (timestamps), where the adapter has them. */
        decodeProfile: { ms: number; families: KernelFamily[] } | null;
      }
    | { error: string };
  wllama: (WllamaInfo & { promptTokens: number; prefillTokPerS: Spread; decodeTokPerS: Spread }) | { error: string };
  /** Our tokens/s over wllama's (medians): above 1, we are faster. */
  speedup: { prefill: number | null; decode: number | null };
}

export interface BrowserResults {
  env: Unwrap<BenchApi['env']>;
  chromium: string;
  roofline: { readGBps: Spread; fmaGflops: Spread; timing: string };
  ort: { build: OrtBuild; version: string; file: string; deviceFeatures: string[] }[];
  ops: OpComparison[];
  models: ModelComparison[];
  requests: { outside: string[] };
}

class BenchPage {
  constructor(readonly page: Page) {}
  async call<K extends keyof BenchApi>(fn: K, ...args: Parameters<BenchApi[K]>): Promise<Reply<Unwrap<BenchApi[K]>>> {
    // a string expression: tsx's helpers (__name) must not leak into the page
    const expr = `window.hearthBench[${JSON.stringify(fn)}](...${JSON.stringify(args)})`;
    return (await this.page.evaluate(expr)) as Reply<Unwrap<BenchApi[K]>>;
  }
  async must<K extends keyof BenchApi>(fn: K, ...args: Parameters<BenchApi[K]>): Promise<Unwrap<BenchApi[K]>> {
    const r = await this.call(fn, ...args);
    if (!r.ok) throw new Error(`${fn}: ${r.error}`);
    return r.value;
  }
}

async function openPage(browser: Browser, server: BenchServer, log: (s: string) => void, outside: string[]): Promise<BenchPage> {
  const page = await browser.newPage();
  // nothing leaves 127.0.0.1: anything else is refused and listed in the results
  await page.route(/.*/, (route) => {
    const url = route.request().url();
    if (url.startsWith(server.origin) || /^(blob|data):/.test(url)) return route.continue();
    outside.push(url);
    return route.abort();
  });
  page.setDefaultTimeout(0);
  page.on('pageerror', (e) => log(`  [page error] ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/favicon|Failed to load resource|\[W:onnxruntime/.test(m.text())) log(`  [page] ${m.text().split('\n')[0]!.slice(0, 200)}`);
  });
  await page.goto(`${server.origin}/bench/browser/bench.html`);
  await page.waitForFunction('window.ready === true', null, { timeout: 120_000 });
  return new BenchPage(page);
}

const median = (s: Spread | null | undefined): number | null => (s && Number.isFinite(s.median) ? s.median : null);

/** Iterations for one measurement from a single run's time. */
const itersFor = (ms: number, plan: BrowserPlan): number => Math.max(1, Math.min(plan.maxIters, Math.round(plan.targetMs / Math.max(ms, 1e-3))));

async function compareOp(
  p: BenchPage,
  plan: BrowserPlan,
  roof: { read: number; fma: number },
  base: Omit<OpComparison, 'bytes' | 'flops' | 'ours' | 'theirs' | 'speedup'>,
  prepOurs: () => Promise<Reply<{ bytes: number; flops: number }>>,
  prepTheirs: () => Promise<Reply<{ weightBytes: number }>>,
): Promise<OpComparison> {
  const ours = await prepOurs();
  const theirs = await prepTheirs();
  const out: OpComparison = { ...base, bytes: 0, flops: 0, ours: { error: '' }, theirs: { error: '' }, speedup: { wall: null, gpu: null } };
  if (!ours.ok) out.ours = { error: ours.error };
  if (!theirs.ok) out.theirs = { error: theirs.error };
  const bytes = ours.ok ? ours.value.bytes : 0;
  const flops = ours.ok ? ours.value.flops : 0;
  out.bytes = bytes;
  out.flops = flops;
  const id = 'op';
  const sides = [
    ...(ours.ok ? [{ who: 'ours' as const, wall: (n: number) => p.must('oursWall', id, n), gpu: (n: number) => p.must('oursGpu', id, n).then((ms) => (ms === null ? null : { ms, byLabel: null })) }] : []),
    ...(theirs.ok
      ? [
          {
            who: 'theirs' as const,
            wall: (n: number) => p.must('ortWall', id, n),
            gpu: (n: number) => p.must('ortGpu', id, n).then((t: (PassTiming & { perRun: number }) | null) => (t ? { ms: t.perRun, byLabel: t.byLabel } : null)),
          },
        ]
      : []),
  ];
  try {
    // one run each to size the measurements (after the warm-ups done at preparation)
    const iters = new Map<string, number>();
    for (const s of sides) iters.set(s.who, itersFor(await s.wall(1), plan));
    const wall = new Map<string, number[]>(sides.map((s) => [s.who, []]));
    const gpu = new Map<string, number[]>(sides.map((s) => [s.who, []]));
    const passes = new Map<string, Record<string, number> | null>();
    for (let r = 0; r < plan.repeats; r++) {
      const order = r % 2 === 0 ? sides : [...sides].reverse();
      for (const s of order) {
        wall.get(s.who)!.push(await s.wall(iters.get(s.who)!));
        if (plan.gpuEveryRepeat || r === 0) {
          const g = await s.gpu(Math.min(iters.get(s.who)!, 8));
          if (g) {
            gpu.get(s.who)!.push(g.ms);
            if (!passes.has(s.who)) passes.set(s.who, g.byLabel);
          }
        }
      }
    }
    for (const s of sides) {
      const w = spread(wall.get(s.who)!);
      const g = gpu.get(s.who)!.length ? spread(gpu.get(s.who)!) : null;
      const best = g?.median ?? w.median;
      if (s.who === 'ours') {
        const GBps = bytes / (best * 1e6);
        const gflops = flops / (best * 1e6);
        out.ours = { wallMs: w, gpuMs: g, GBps, gflops, ofRead: GBps / roof.read, ofFma: gflops / roof.fma };
      } else {
        const wb = theirs.ok ? theirs.value.weightBytes : 0;
        out.theirs = { wallMs: w, gpuMs: g, weightBytes: wb, passes: passes.get('theirs') ?? null, GBps: wb / (best * 1e6), gflops: flops / (best * 1e6) };
      }
    }
    if ('wallMs' in out.ours && 'wallMs' in out.theirs) {
      out.speedup.wall = out.theirs.wallMs.median / out.ours.wallMs.median;
      const og = median(out.ours.gpuMs);
      const tg = median(out.theirs.gpuMs);
      out.speedup.gpu = og && tg ? tg / og : null;
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (!('wallMs' in out.ours)) out.ours = { error: out.ours.error || msg };
    if (!('wallMs' in out.theirs)) out.theirs = { error: out.theirs.error || msg };
  } finally {
    await p.call('oursDestroy', id);
    await p.call('ortDestroy', id);
  }
  return out;
}

function opLine(c: OpComparison): string {
  const shape = c.op.startsWith('attention') ? `kv ${c.kvLen}` : `${c.n}x${c.k}${c.op === 'gemm' ? ` m${c.m}` : ''}`;
  const ours = 'wallMs' in c.ours ? `${c.ours.wallMs.median.toFixed(2)} ms` : `error`;
  const theirs = 'wallMs' in c.theirs ? `${c.theirs.wallMs.median.toFixed(2)} ms` : `— (${c.theirs.error.slice(0, 60)})`;
  const sp = c.speedup.wall ? ` ×${c.speedup.wall.toFixed(2)}` : '';
  return `  ${c.op.padEnd(17)} ${c.model.padEnd(13)} ${c.name.padEnd(8)} ${shape.padEnd(16)} ${(c.variant ? `${c.format}/${c.variant}` : c.format).padEnd(6)} ours ${ours.padEnd(11)} ${c.peer.op.padEnd(19)} ${theirs}${sp}`;
}

async function runOps(p: BenchPage, build: OrtBuild, plan: BrowserPlan, roof: { read: number; fma: number }, log: (s: string) => void): Promise<OpComparison[]> {
  const out: OpComparison[] = [];
  for (const key of plan.ops.models) {
    const m = MODELS[key];
    for (const shape of matmulShapes(m, plan.ops.lmHead).filter((x) => !plan.ops.shapes || plan.ops.shapes.includes(x.name))) {
      for (const [op, formats, variant] of [
        ['gemv', plan.ops.gemvFormats, undefined],
        ['gemv', plan.ops.tiledGemvFormats ?? [], 'tiled'],
        ['gemm', shape.gemvOnly ? [] : plan.ops.gemmFormats, undefined],
      ] as const) {
        for (const format of formats) {
          const tokens = op === 'gemv' ? 1 : plan.ops.m;
          const peerOp = PEER_KIND[format];
          const mc: MatmulCase = { n: shape.n, k: shape.k, format, tokens, variant };
          const c = await compareOp(
            p,
            plan,
            roof,
            { op, model: m.name, name: shape.name, n: shape.n, k: shape.k, m: tokens, format, ...(variant ? { variant } : {}), peer: { build, op: peerOp } },
            () => p.call('oursMatmul', 'op', mc),
            () => p.call('ortMatmul', 'op', peerOp, tokens, shape.n, shape.k),
          );
          out.push(c);
          log(opLine(c));
        }
      }
    }
    const att = attentionShape(m);
    const cases: AttentionCase[] = [
      ...plan.ops.attention.decode.map((kvLen) => ({ ...att, mode: 'decode' as const, kvLen })),
      ...plan.ops.attention.prefill.map((kvLen) => ({ ...att, mode: 'prefill' as const, kvLen })),
    ];
    for (const ac of cases) {
      const c = await compareOp(
        p,
        plan,
        roof,
        { op: ac.mode === 'decode' ? 'attention-decode' : 'attention-prefill', model: m.name, name: `${m.heads}/${m.kvHeads}x${m.headDim}`, kvLen: ac.kvLen, format: 'f32-kv', peer: { build, op: 'GroupQueryAttention' } },
        () => p.call('oursAttention', 'op', ac),
        () => p.call('ortGqa', 'op', ac),
      );
      out.push(c);
      log(opLine(c));
    }
  }
  return out;
}

async function runModels(p: BenchPage, server: BenchServer, plan: BrowserPlan, readGBps: number, threads: number | undefined, log: (s: string) => void): Promise<ModelComparison[]> {
  const out: ModelComparison[] = [];
  for (const { key, type } of plan.models) {
    const f = modelFile(key, type, log);
    const url = server.addModel(`${key}-${type}.gguf`, f.path);
    const res: ModelComparison = { model: f.model, format: f.type, promptTokens: plan.prompt, decodeTokens: plan.decode, ours: { error: 'not run' }, wllama: { error: 'not run' }, speedup: { prefill: null, decode: null } };
    const ctxLen = plan.prompt + plan.decode + 16;
    const load = await p.call('engineLoad', url, ctxLen);
    let prompts: { text: string; ids: number[] }[] = [];
    if (load.ok) {
      // prompts first: wllama gets the same text, so the same tokens
      for (let r = 0; r <= plan.modelRepeats; r++) prompts.push(await p.must('enginePrompt', plan.prompt, 100 * r + 7));
    } else {
      res.ours = { error: load.error };
    }
    const wl = await p.call('wllamaLoad', url, { nCtx: ctxLen, nBatch: Math.max(64, plan.prompt), gpu: true, threads });
    if (!wl.ok) res.wllama = { error: wl.error };
    if (!prompts.length) prompts = Array.from({ length: plan.modelRepeats + 1 }, () => ({ text: 'once upon a time '.repeat(plan.prompt), ids: [] }));
    const ours = { prefill: [] as number[], decode: [] as number[] };
    const theirs = { prefill: [] as number[], decode: [] as number[], promptTokens: 0 };
    const runOurs = async (r: number) => {
      // warm-up (r = 0): pipelines are compiled at the first dispatch, a couple of tokens suffice
      const g = await p.must('engineGenerate', prompts[r]!.ids, r === 0 ? 2 : plan.decode);
      if (r > 0) {
        ours.prefill.push(g.timings.prefillTokensPerSecond);
        ours.decode.push(g.timings.decodeTokensPerSecond);
      }
    };
    const runTheirs = async (r: number) => {
      // warm-up (r = 0) at full length: llama.cpp's thread pool and caches take a whole run to settle
      // A random-weight model picks byte tokens (<0x80> ...) as readily as any: their bytes make
      // invalid UTF-8, on which llama.cpp's JSON reply throws and wllama's worker breaks. Banning
      // the 259 specials and bytes of the synthetic vocabularies leaves the work the same.
      const ban = key === 'stories' ? [] : Array.from({ length: 259 }, (_, i) => i);
      const g: WllamaGen = await p.must('wllamaGenerate', prompts[r]!.text, plan.decode, ban);
      if (r > 0) {
        theirs.prefill.push(g.prefillTokensPerSecond);
        theirs.decode.push(g.decodeTokensPerSecond);
        theirs.promptTokens = g.promptTokens;
      }
    };
    // repeat 0 is the warm-up of both; then alternate who goes first
    let oursOk = load.ok;
    let theirsOk = wl.ok;
    for (let r = 0; r <= plan.modelRepeats; r++) {
      for (const who of r % 2 === 0 ? ['ours', 'theirs'] : ['theirs', 'ours']) {
        try {
          if (who === 'ours' && oursOk) await runOurs(r);
          if (who === 'theirs' && theirsOk) await runTheirs(r);
        } catch (e) {
          const error = e instanceof Error ? e.message : String(e);
          if (who === 'ours') {
            oursOk = false;
            res.ours = { error };
          } else {
            theirsOk = false;
            res.wllama = { error };
          }
        }
      }
    }
    if (load.ok && oursOk && ours.decode.length) {
      const info = load.value;
      const prof = await p.call('engineProfile', [prompts[1]!.ids[1] ?? 5], plan.prompt);
      const bytes = decodeBytesPerToken({
        weightBytes: info.weightBytes,
        tied: f.tied,
        embedBytes: gpuMatrixBytes(f.embedFormat, f.vocab, f.hidden),
        layers: f.layers,
        kvHeads: f.kvHeads,
        headDim: f.headDim,
        kvLen: plan.prompt + plan.decode / 2,
      });
      res.ours = {
        loadMs: info.loadMs,
        weightBytes: info.weightBytes,
        dispatchesPerToken: info.dispatchesPerToken,
        prefillTokPerS: spread(ours.prefill),
        decodeTokPerS: spread(ours.decode),
        bytesPerToken: bytes.total,
        ofReadRoofline: spread(ours.decode.map((t) => (bytes.total * t) / 1e9 / readGBps)),
        decodeProfile: prof.ok && prof.value.ms > 0 ? prof.value : null,
      };
      res.promptTokens = prompts[1]!.ids.length;
    }
    if (wl.ok && theirsOk && theirs.decode.length) res.wllama = { ...wl.value, promptTokens: theirs.promptTokens, prefillTokPerS: spread(theirs.prefill), decodeTokPerS: spread(theirs.decode) };
    if ('decodeTokPerS' in res.ours && 'decodeTokPerS' in res.wllama) {
      res.speedup = { prefill: res.ours.prefillTokPerS.median / res.wllama.prefillTokPerS.median, decode: res.ours.decodeTokPerS.median / res.wllama.decodeTokPerS.median };
    }
    await p.call('engineUnload');
    await p.call('wllamaUnload');
    const o = 'decodeTokPerS' in res.ours ? `ours prefill ${res.ours.prefillTokPerS.median.toFixed(2)} / decode ${res.ours.decodeTokPerS.median.toFixed(2)} tok/s` : `ours error: ${res.ours.error}`;
    const t = 'decodeTokPerS' in res.wllama ? `wllama (${res.wllama.backend}) ${res.wllama.prefillTokPerS.median.toFixed(2)} / ${res.wllama.decodeTokPerS.median.toFixed(2)} tok/s` : `wllama error: ${res.wllama.error}`;
    log(`  ${f.model} ${f.type}: ${o}; ${t}`);
    out.push(res);
  }
  return out;
}

/** Chromium with WebGPU; developer features lift the 100 µs rounding of timestamp queries. */
export function launchBenchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, '--enable-webgpu-developer-features'] });
}

/** Same test as isCpuAdapter (src/gpu/device.ts), on the page's adapter info. */
const cpuAdapter = (a: { vendor: string; architecture: string; description: string }): boolean => /swiftshader|llvmpipe|lavapipe/i.test(`${a.vendor} ${a.architecture} ${a.description}`);

export interface BrowserOptions {
  /** wllama's threads; absent, its default (half the logical cores). `npm run bench` gives it every core, its best here. */
  wllamaThreads?: number;
  /** Changes to the mode's plan (for experiments and tests). */
  plan?: Partial<BrowserPlan>;
}

export async function runBrowser(mode: 'tiny' | 'quick' | 'full', log: (s: string) => void, opts: BrowserOptions = {}): Promise<BrowserResults & { plan: BrowserPlan }> {
  const quick = mode !== 'full';
  const server = await startBenchServer();
  const browser = await launchBenchChromium();
  try {
    const outside: string[] = [];
    const p = await openPage(browser, server, log, outside);
    const env = await p.must('env');
    const plan = { ...browserPlan(mode, cpuAdapter(env.adapter)), ...opts.plan };
    log(`chromium ${browser.version()}: ${env.adapter.vendor} ${env.adapter.architecture} ${env.adapter.description}; features ${Object.entries(env.features).filter(([, v]) => v).map(([k]) => k).join(', ')}; crossOriginIsolated ${env.crossOriginIsolated}`);
    const reads: number[] = [];
    const fmas: number[] = [];
    let timing = '';
    for (let i = 0; i < plan.roofRepeats; i++) {
      const r: Roofline = await p.must('roofline', quick);
      reads.push(r.readGBps);
      fmas.push(r.fmaGflops);
      timing = r.timing;
    }
    const roofline = { readGBps: spread(reads), fmaGflops: spread(fmas), timing };
    // best of the repeats: the adapter's capability, not its neighbours' load
    const roof = { read: roofline.readGBps.max, fma: roofline.fmaGflops.max };
    log(`roofline: read ${roof.read.toFixed(2)} GB/s, FMA ${roof.fma.toFixed(2)} GFLOP/s (best of ${plan.roofRepeats})`);
    const ort: BrowserResults['ort'] = [];
    const ops: OpComparison[] = [];
    for (const build of plan.ortBuilds) {
      // one ORT build per page: each keeps its own wasm instance and device
      const op = build === plan.ortBuilds[0] ? p : await openPage(browser, server, log, outside);
      const info = await op.must('ortLoad', build);
      log(`ops vs ONNX Runtime Web ${info.version} (${build}: ${info.file})`);
      ops.push(...(await runOps(op, build, plan, roof, log)));
      ort.push({ build, version: info.version, file: info.file, deviceFeatures: await op.must('ortFeatures') });
      if (op !== p) await op.page.close();
    }
    log('models vs wllama');
    const models = await runModels(p, server, plan, roof.read, opts.wllamaThreads, log);
    return { plan, env, chromium: browser.version(), roofline, ort, ops, models, requests: { outside } };
  } finally {
    await browser.close();
    await server.close();
  }
}
