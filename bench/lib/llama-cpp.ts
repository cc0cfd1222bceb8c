/**
 * llama.cpp itself, as the reference for GGUF: wllama (llama.cpp compiled to wasm, CPU backend)
 * in headless Chromium, served by the bench server from node_modules, driven from Node. One model
 * stays loaded in the page between calls; every completion is greedy with the top log-probabilities
 * of each step, which is what the agreement checks (test/browser/llama-cpp-*.test.ts, bench/parity.ts)
 * compare Hearth against.
 */
import { cpus } from 'node:os';
import type { Browser, Page } from 'playwright';
import { startBenchServer, type BenchServer } from '../browser/server.js';
import { launchChromium } from '../../test/helpers/browser.js';

export interface LlamaCppStep {
  /** The token llama.cpp chose (greedy). */
  id: number;
  /** Its most likely tokens at this step, most likely first. */
  top: { id: number; logprob: number }[];
}

export interface LlamaCppCompletion {
  promptTokens: number;
  steps: LlamaCppStep[];
  text: string;
  /** llama.cpp's own timings of this completion. */
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
}

export interface LlamaCppOptions {
  /** Context length to load with (prompt + continuation must fit). */
  nCtx: number;
  /** wllama threads; default every core of this machine (its best setting here). */
  threads?: number;
  /**
   * Load llama.cpp's tokenizer too (a second wllama instance holding the model again); false for
   * files too large to hold twice in the page. Without it, tokenize is null.
   */
  tokenizer?: boolean;
}

export interface LlamaCpp {
  version: string;
  threads: number;
  /**
   * Greedy continuation of `prompt` (text, tokenized by llama.cpp with the model's own rules,
   * special tokens parsed) for `maxTokens` tokens, never
   * stopping at end-of-generation, with the `topLogprobs` most likely tokens at each step.
   */
  complete(prompt: string, maxTokens: number, topLogprobs: number): Promise<LlamaCppCompletion>;
  /**
   * llama.cpp's tokenization of `text` as a completion prompt sees it: special tokens parsed, BOS
   * first when the model asks for it (wllama 2.x, llama.cpp b7179, on the same file: 3.x has no
   * tokenizer call and takes text prompts only).
   */
  tokenize: ((text: string) => Promise<number[]>) | null;
  close(): Promise<void>;
}

/** Runs in the page, as text: vitest would rewrite a dynamic import() inside a function. */
const LOAD = `async ({ url, nCtx, threads, tokenizer }) => {
  const { Wllama } = await import('/peers/wllama/index.js');
  const quiet = () => {};
  const w = new Wllama({ default: '/peers/wllama/wasm/wllama.wasm' }, { suppressNativeLog: true, logger: { debug: quiet, log: quiet, info: quiet, warn: quiet, error: quiet } });
  const blob = await (await fetch(url)).blob();
  await w.loadModel([blob], { n_ctx: nCtx, n_batch: Math.min(nCtx, 512), n_ubatch: Math.min(nCtx, 512), n_gpu_layers: 0, n_threads: threads, seed: 1 });
  globalThis.__llamaCpp = w;
  if (!tokenizer) return { version: Wllama.getLibllamaVersion ? Wllama.getLibllamaVersion() : 'unknown', threads: w.getNumThreads() };
  const { Wllama: Wllama2 } = await import('/peers/wllama2/index.js');
  const t = new Wllama2({ 'single-thread/wllama.wasm': '/peers/wllama2/single-thread/wllama.wasm', 'multi-thread/wllama.wasm': '/peers/wllama2/multi-thread/wllama.wasm' }, { suppressNativeLog: true, logger: { debug: quiet, log: quiet, info: quiet, warn: quiet, error: quiet } });
  await t.loadModel([blob], { n_ctx: 64, n_batch: 64, n_threads: 1 });
  globalThis.__llamaCppTokenizer = t;
  return { version: Wllama.getLibllamaVersion ? Wllama.getLibllamaVersion() : 'unknown', threads: w.getNumThreads() };
}`;

const COMPLETE = `async ({ prompt, maxTokens, topLogprobs }) => {
  const w = globalThis.__llamaCpp;
  const r = await w.createCompletion({ prompt, max_tokens: maxTokens, temperature: 0, top_k: 1, logprobs: topLogprobs, ignore_eos: true, cache_prompt: false, stream: false });
  const content = r.choices[0].logprobs && r.choices[0].logprobs.content;
  if (!content) throw new Error('llama.cpp returned no logprobs: ' + JSON.stringify(r).slice(0, 500));
  return {
    promptTokens: r.usage.prompt_tokens,
    text: r.choices[0].text,
    steps: content.map((s) => ({ id: s.id, top: s.top_logprobs.map((t) => ({ id: t.id, logprob: t.logprob })) })),
    prefillTokensPerSecond: r.timings ? r.timings.prompt_per_second : 0,
    decodeTokensPerSecond: r.timings ? r.timings.predicted_per_second : 0,
  };
}`;

const TOKENIZE = `async (text) => {
  const t = globalThis.__llamaCppTokenizer;
  const ids = await t.tokenize(text, true);
  return t.mustAddBosToken() && ids[0] !== t.getBOS() ? [t.getBOS(), ...ids] : ids;
}`;

export interface LlamaCppHost {
  /** Load a GGUF into llama.cpp, in place of the model loaded before. */
  load(path: string, opts: LlamaCppOptions): Promise<LlamaCpp>;
  close(): Promise<void>;
}

/** A headless Chromium page that runs llama.cpp (wllama), one model at a time. */
export async function openLlamaCpp(): Promise<LlamaCppHost> {
  let server: BenchServer | undefined;
  let browser: Browser | undefined;
  try {
    server = await startBenchServer();
    browser = await launchChromium();
    const page: Page = await browser.newPage();
    await page.goto(`${server.origin}/bench/browser/bench.html`);
    const [s, b] = [server, browser];
    const unload = async () => {
      await page.evaluate('globalThis.__llamaCpp && globalThis.__llamaCpp.exit()').catch(() => {});
      await page.evaluate('globalThis.__llamaCppTokenizer && globalThis.__llamaCppTokenizer.exit()').catch(() => {});
      await page.evaluate('globalThis.__llamaCpp = undefined; globalThis.__llamaCppTokenizer = undefined');
    };
    return {
      async load(path, opts) {
        await unload();
        const url = s.addModel(path.split('/').pop()!, path);
        const threads = opts.threads ?? cpus().length;
        const tokenizer = opts.tokenizer ?? true;
        const info = (await page.evaluate(`(${LOAD})(${JSON.stringify({ url, nCtx: opts.nCtx, threads, tokenizer })})`)) as { version: string; threads: number };
        return {
          ...info,
          complete: async (prompt, maxTokens, topLogprobs) =>
            (await page.evaluate(`(${COMPLETE})(${JSON.stringify({ prompt, maxTokens, topLogprobs })})`)) as LlamaCppCompletion,
          tokenize: tokenizer ? async (text) => (await page.evaluate(`(${TOKENIZE})(${JSON.stringify(text)})`)) as number[] : null,
          close: unload,
        };
      },
      async close() {
        await unload().catch(() => {});
        await b.close();
        await s.close();
      },
    };
  } catch (e) {
    await browser?.close();
    await server?.close();
    throw e;
  }
}

/** Load the GGUF at `path` into llama.cpp (wllama) in a fresh headless Chromium; close() ends both. */
export async function startLlamaCpp(path: string, opts: LlamaCppOptions): Promise<LlamaCpp> {
  const host = await openLlamaCpp();
  try {
    const model = await host.load(path, opts);
    return { ...model, close: () => host.close() };
  } catch (e) {
    await host.close();
    throw e;
  }
}
