/**
 * The in-browser benchmark page. It measures nothing on its own: the Node orchestrator
 * (bench/browser/run-browser.ts) calls these functions through page.evaluate, one small step at a
 * time, so that it can alternate ours and theirs and keep every figure's repeats.
 *
 * Ours runs on the page's own device (createGpuContext(navigator.gpu)), ONNX Runtime on the device
 * it creates, wllama in its own worker. Only one ORT build is loaded per page.
 */
import { createGpuContext, type GpuContext } from '../../src/gpu/device.js';
import { loadEngine } from '../../src/engine/load.js';
import type { Engine } from '../../src/engine/engine.js';
import { urlSource } from '../../src/hub/url-source.js';
import { prepareAttention, prepareMatmul, roofline, type AttentionCase, type MatmulCase, type TimedOp } from '../lib/ours.js';
import { loadOrt, ortFeatures, prepareOrtGqa, prepareOrtMatmul, type OrtBuild, type OrtMatmulKind, type OrtOp } from './ort.js';
import { loadWllama, type WllamaRun } from './wllama.js';
import { groupKernels } from '../lib/model-metrics.js';

let ctx: GpuContext | null = null;
const ours = new Map<string, TimedOp>();
const theirs = new Map<string, OrtOp>();
let engine: Engine | null = null;
let wl: WllamaRun | null = null;

async function gpu(): Promise<GpuContext> {
  ctx ??= await createGpuContext(navigator.gpu);
  return ctx;
}

const WORDS = 'the a little girl boy dog cat sun tree house park ball red big happy sad ran jumped played saw said was once upon time day friend mom dad box cake water'.split(' ');

/** Seeded English-looking words: real tokens for a real vocabulary, bytes for a synthetic one. */
function wordSoup(seed: number, chars: number): string {
  let s = (seed * 2654435761 + 1) >>> 0;
  const words: string[] = [];
  let len = 0;
  while (len < chars) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const w = WORDS[s % WORDS.length]!;
    words.push(w);
    len += w.length + 1;
  }
  return words.join(' ');
}

const errorText = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/** Every call answers {ok, value} or {ok: false, error}, so one failing op never stops the run. */
async function guard<T>(f: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: string }> {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    return { ok: false, error: errorText(e) };
  }
}

const api = {
  env: () =>
    guard(async () => {
      const c = await gpu();
      const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
      return {
        userAgent: navigator.userAgent,
        hardwareConcurrency: navigator.hardwareConcurrency,
        crossOriginIsolated: globalThis.crossOriginIsolated,
        adapter: c.adapterInfo,
        features: c.features,
        adapterFeatures: adapter ? [...adapter.features].sort() : [],
        limits: c.limits,
      };
    }),

  roofline: (quick: boolean) => guard(async () => roofline(await gpu(), quick)),

  oursMatmul: (id: string, c: MatmulCase) =>
    guard(async () => {
      const op = prepareMatmul(await gpu(), c);
      ours.set(id, op);
      await op.wall(1); // warm-up: pipelines built, weights resident
      return { bytes: op.bytes, flops: op.flops };
    }),

  oursAttention: (id: string, c: AttentionCase) =>
    guard(async () => {
      const op = prepareAttention(await gpu(), c);
      ours.set(id, op);
      await op.wall(1);
      return { bytes: op.bytes, flops: op.flops };
    }),

  oursWall: (id: string, iters: number) => guard(() => ours.get(id)!.wall(iters)),
  oursGpu: (id: string, iters: number) => guard(() => ours.get(id)!.gpu(iters)),
  oursDestroy: (id: string) =>
    guard(async () => {
      ours.get(id)?.destroy();
      ours.delete(id);
    }),

  ortLoad: (build: OrtBuild) => guard(() => loadOrt(build)),
  ortFeatures: () => guard(async () => ortFeatures()),
  ortMatmul: (id: string, kind: OrtMatmulKind, m: number, n: number, k: number) =>
    guard(async () => {
      const op = await prepareOrtMatmul(kind, m, n, k);
      theirs.set(id, op);
      return { weightBytes: op.weightBytes };
    }),
  ortGqa: (id: string, c: AttentionCase) =>
    guard(async () => {
      const op = await prepareOrtGqa(c);
      theirs.set(id, op);
      return { weightBytes: op.weightBytes };
    }),
  ortWall: (id: string, iters: number) => guard(() => theirs.get(id)!.wall(iters)),
  ortGpu: (id: string, iters: number) => guard(() => theirs.get(id)!.gpu(iters)),
  ortDestroy: (id: string) =>
    guard(async () => {
      await theirs.get(id)?.destroy();
      theirs.delete(id);
    }),

  /** Our engine on the page's device, streaming the GGUF by range from the bench server. */
  engineLoad: (url: string, contextLength: number, prefillChunk?: number) =>
    guard(async () => {
      await engine?.unload();
      const t0 = performance.now();
      engine = await loadEngine(await gpu(), urlSource(url), { contextLength, prefillChunk });
      const info = engine.info;
      return { loadMs: performance.now() - t0, weightBytes: info.weightBytes, kvCacheBytes: info.kvCacheBytes, dispatchesPerToken: info.dispatchesPerToken, config: info.config, weightFormats: info.weightFormats };
    }),
  engineGenerate: (promptIds: number[], maxTokens: number) =>
    guard(async () => {
      const r = await engine!.generate({ promptIds, maxTokens, sampling: { temperature: 0 }, seed: 1, stopIds: [], stopStrings: [] });
      return { ids: r.ids, timings: r.timings, usage: r.usage };
    }),
  /**
   * A text prompt of exactly `n` tokens (BOS included) by our tokenizer, which matches llama.cpp's
   * for GGUF vocabularies: wllama takes text only, so both sides are given the same text.
   */
  enginePrompt: (n: number, seed: number) =>
    guard(async () => {
      const tok = engine!.tokenizer;
      const text = wordSoup(seed, n * 8);
      const count = (chars: number) => tok.encode(text.slice(0, chars)).length;
      // the token count grows with the prefix: the shortest prefix with n tokens
      let lo = 1;
      let hi = text.length;
      if (count(hi) < n) throw new Error(`could not make a ${n}-token prompt`);
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (count(mid) >= n) hi = mid;
        else lo = mid + 1;
      }
      const prompt = text.slice(0, lo);
      return { text: prompt, ids: tok.encode(prompt) };
    }),
  /**
   * Per-kernel GPU time of one forward pass over `tokens` at position `pos`, by kernel family.
   * Engine.profile() asks for 16384 timestamps, above WebGPU's 4096 (reported): the query set is
   * clamped here, as bench/models.ts does in Node.
   */
  engineProfile: (tokens: number[], pos: number) =>
    guard(async () => {
      const device = ctx!.device;
      const create = device.createQuerySet.bind(device);
      device.createQuerySet = (d: GPUQuerySetDescriptor) => create({ ...d, count: Math.min(d.count, 4096) });
      try {
        const t = await engine!.profile(tokens, pos);
        return { ms: t.reduce((s, k) => s + k.ms, 0), families: groupKernels(t) };
      } finally {
        device.createQuerySet = create;
      }
    }),
  engineUnload: () =>
    guard(async () => {
      await engine?.unload();
      engine = null;
    }),

  wllamaLoad: (url: string, opts: { nCtx: number; nBatch: number; gpu: boolean; threads?: number }) =>
    guard(async () => {
      await wl?.unload();
      wl = null;
      wl = await loadWllama(url, opts);
      return wl.info;
    }),
  wllamaGenerate: (prompt: string, maxTokens: number, banIds?: number[]) => guard(() => wl!.generate(prompt, maxTokens, banIds)),
  wllamaUnload: () =>
    guard(async () => {
      await wl?.unload();
      wl = null;
    }),
};

export type BenchApi = typeof api;
(window as unknown as { hearthBench: BenchApi }).hearthBench = api;
(window as unknown as { ready: boolean }).ready = true;
