/**
 * wllama (llama.cpp compiled to wasm, with ggml's WebGPU backend) on the same GGUF file, loaded
 * from node_modules by URL. Its native log is kept: that is where llama.cpp says which backend
 * the layers went to, which the report states rather than assumes.
 */

interface WllamaLike {
  loadModel(blobs: Blob[], params: Record<string, unknown>): Promise<void>;
  createCompletion(options: Record<string, unknown>): Promise<{
    choices: { text: string; finish_reason: string | null }[];
    usage: { prompt_tokens: number; completion_tokens: number };
    timings?: { cache_n: number; prompt_n: number; prompt_ms: number; prompt_per_second: number; predicted_n: number; predicted_ms: number; predicted_per_second: number };
  }>;
  isMultithread(): boolean;
  getNumThreads(): number;
  isSupportWebGPU(): boolean;
  exit(): Promise<void>;
}
interface WllamaModule {
  Wllama: new (paths: { default: string }, config: Record<string, unknown>) => WllamaLike;
}

export interface WllamaInfo {
  version: string;
  loadMs: number;
  threads: number;
  multithread: boolean;
  /** 'webgpu' when llama.cpp put the layers on a WebGPU device, else 'cpu' (wasm SIMD). */
  backend: 'webgpu' | 'cpu';
  /** The log lines that told us. */
  evidence: string[];
}

export interface WllamaGen {
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  prefillMs: number;
  decodeMs: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  wallMs: number;
}

export interface WllamaRun {
  info: WllamaInfo;
  /**
   * wllama takes text only (a token array breaks its worker): give it text our tokenizer counted.
   * `banIds`: token ids it must not generate (see run-browser.ts: byte tokens of synthetic models).
   */
  generate(prompt: string, maxTokens: number, banIds?: number[]): Promise<WllamaGen>;
  unload(): Promise<void>;
}

/** Lines of llama.cpp's log that say where the weights and the compute went. */
const BACKEND_LINE = /webgpu|offload|GPU|backend|buffer size|CPU_Mapped|CPU model|ggml_/i;

/** `threads`: absent, wllama's default (half of navigator.hardwareConcurrency), what its users get. */
export async function loadWllama(url: string, opts: { nCtx: number; nBatch: number; gpu: boolean; threads?: number }): Promise<WllamaRun> {
  // a URL in a variable: Vite leaves the import to the browser
  const entry = '/peers/wllama/index.js';
  const mod = (await import(/* @vite-ignore */ entry)) as WllamaModule & { Wllama: { getLibllamaVersion?: () => string } };
  const log: string[] = [];
  const keep = (...args: unknown[]) => {
    const line = args.map(String).join(' ');
    if (log.length < 5000) log.push(line);
  };
  const w = new mod.Wllama({ default: '/peers/wllama/wasm/wllama.wasm' }, { logger: { debug: keep, log: keep, info: keep, warn: keep, error: keep }, suppressNativeLog: false });
  const blob = await (await fetch(url)).blob();
  const t0 = performance.now();
  await w.loadModel([blob], {
    n_ctx: opts.nCtx,
    n_batch: opts.nBatch,
    n_ubatch: opts.nBatch,
    ...(opts.threads ? { n_threads: opts.threads } : {}),
    n_gpu_layers: opts.gpu ? 99999 : 0,
    n_parallel: 1,
    seed: 1,
  });
  const loadMs = performance.now() - t0;
  const evidence = log.filter((l) => BACKEND_LINE.test(l)).slice(0, 40);
  // llama.cpp names the buffer type of the weights: "WebGPU model buffer size" when they went to the GPU
  const onGpu = log.some((l) => /webgpu\S* model buffer size|offloaded [1-9]\d*\/\d+ layers to GPU/i.test(l));
  return {
    info: { version: mod.Wllama.getLibllamaVersion?.() ?? 'unknown', loadMs, threads: w.getNumThreads(), multithread: w.isMultithread(), backend: onGpu ? 'webgpu' : 'cpu', evidence },
    async generate(prompt, maxTokens, banIds = []) {
      const t = performance.now();
      const logitBias = Object.fromEntries(banIds.map((id) => [String(id), -100]));
      const r = await w.createCompletion({
        prompt,
        max_tokens: maxTokens,
        temperature: 0,
        top_k: 1,
        ignore_eos: true,
        ...(banIds.length ? { logit_bias: logitBias } : {}),
        cache_prompt: false,
        stream: false,
      });
      const wallMs = performance.now() - t;
      const tm = r.timings;
      if (!tm) throw new Error('wllama returned no timings');
      return {
        promptTokens: tm.prompt_n,
        cachedTokens: tm.cache_n,
        completionTokens: tm.predicted_n,
        prefillMs: tm.prompt_ms,
        decodeMs: tm.predicted_ms,
        prefillTokensPerSecond: tm.prompt_per_second,
        decodeTokensPerSecond: tm.predicted_per_second,
        wallMs,
      };
    },
    unload: () => w.exit(),
  };
}
