import common from '../../shaders/common.wgsl?raw';
import source from '../../shaders/sample.wgsl?raw';
import greedySource from '../../shaders/sample_greedy.wgsl?raw';
import { HearthError } from '../errors.js';
import { isCpuAdapter, type GpuContext } from '../gpu/device.js';
import { Readback, createStorage, createUniform, writeBuffer } from '../gpu/buffers.js';
import { bindBuffers, grid1d, gridFor, type Dispatch, type Grid } from '../gpu/dispatch.js';
import { GREEDY_SAMPLING, validateSampling, type SampleResult, type SamplingParams } from './sampling.js';

export type { SampleResult, SamplingParams } from './sampling.js';

/** The full shader source (common prelude + shaders/sample.wgsl). */
export const SAMPLE_WGSL = `${common}\n${source}`;
const code = SAMPLE_WGSL;
const GREEDY_WGSL = `${SAMPLE_WGSL}\n${greedySource}`;
/** The sampler's grids read only what setParams turned on, not the step. */
const STEP0 = { tokens: 1, pos: 0, kvLen: 1 };

// shaders/sample.wgsl
const WG = 256;
const GREEDY_CPU_LANES = 4;
const BINS = 256;
const SEARCH_LEVELS = 8; // 4 for top-k, then 4 for top-p
const HEADS = 4;
const PARAMS_BYTES = 64;
const STATE_BYTES = 32 + SEARCH_LEVELS * 32;
const RESULT_HEADER = 16;

/** The most top logprobs a sampler can return (OpenAI's limit). */
export const MAX_TOP_LOGPROBS = 20;
/** Tokens per invocation: many workgroups on a GPU; few invocations on a CPU driver, where each costs. */
const perThreadFor = (ctx: GpuContext): number => (isCpuAdapter(ctx) ? 64 : 4);

export interface SamplerArgs {
  /** The step uniform (src/gpu/dispatch.ts); its seed drives the draw. */
  step: GPUBuffer;
  /** [vocab] f32 logits of the token to sample after. */
  logits: GPUBuffer;
  vocab: number;
  /** Most top logprobs a request may ask for (0..20; default 20). Sizes the result. */
  maxTopLogprobs?: number;
  /** Tokens per invocation (default: 4 on GPUs, 64 on CPU drivers). Tests set it to cover both. */
  perThread?: number;
  /**
   * Every workgroup resolves the previous search level itself (default on GPUs: fewer dependent
   * dispatches) rather than one workgroup in a pass of its own (default on CPU drivers, where
   * barriers cost per invocation). Tests set it to cover both.
   */
  folded?: boolean;
}

export interface Sampler {
  /** Recorded after the logits matmul, every step. Passes a request does not need get an empty grid. */
  dispatches: Dispatch[];
  /** Writes a uniform; call once per request (queue.writeBuffer). */
  setParams(p: SamplingParams): void;
  /**
   * Allowed ids for the next draw, as a bitmask (bit id & 31 of word id >> 5), or null for all.
   * Written before the submit that samples; disallowed tokens are ruled out before every
   * sampling mode, and logprobs are taken over the allowed ones.
   */
  setMask(mask: Uint32Array | null): void;
  /** Zero the per-token occurrence counts (new request). */
  resetCounts(): void;
  /** Add tokens to the counts (e.g. the prompt, for penalties). */
  addCounts(ids: number[]): void;
  /** Copy the small result into a reusable MAP_READ buffer. */
  copyResult(enc: GPUCommandEncoder): void;
  /** After the submit that holds copyResult. */
  readResult(): Promise<SampleResult>;
  destroy(): void;
  /** The GPU result (RESULT layout, see decodeSampleResult), for callers batching many steps. */
  resultBuffer?: GPUBuffer;
  /** Bytes of resultBuffer that hold the result. */
  resultBytes?: number;
}

/** Read a sampler's result bytes: token, logprob, count, cutoff key, then (id, logprob) pairs. */
export function decodeSampleResult(bytes: ArrayBuffer): SampleResult {
  const dv = new DataView(bytes);
  const n = dv.getUint32(8, true);
  const top: { id: number; logprob: number }[] = [];
  for (let r = 0; r < n; r++) top.push({ id: dv.getUint32(RESULT_HEADER + 8 * r, true), logprob: dv.getFloat32(RESULT_HEADER + 8 * r + 4, true) });
  return { token: dv.getUint32(0, true), logprob: dv.getFloat32(4, true), top, cutoff: valueOfKey(dv.getUint32(12, true)) };
}

/** Inverse of the shader's key_of; key 0 means "no cutoff". */
function valueOfKey(key: number): number {
  if (key === 0) return -Infinity;
  const bits = key & 0x80000000 ? key & 0x7fffffff : ~key >>> 0;
  return new Float32Array(new Uint32Array([bits]).buffer)[0]!;
}

function checkParams(p: SamplingParams, maxTop: number): void {
  validateSampling(p, maxTop);
}

const GREEDY: SamplingParams = { ...GREEDY_SAMPLING };

/**
 * The GPU sampler for one logits row: penalties, temperature, top-k/top-p/min-p and a seeded
 * draw (shaders/sample.wgsl), reading back only the token, its logprob and the top logprobs.
 * Starts greedy, with zero counts.
 */
export function createSampler(ctx: GpuContext, a: SamplerArgs): Sampler {
  const { vocab } = a;
  const maxTop = a.maxTopLogprobs ?? MAX_TOP_LOGPROBS;
  const perThread = a.perThread ?? perThreadFor(ctx);
  const folded = a.folded ?? !isCpuAdapter(ctx);
  if (!(Number.isInteger(perThread) && perThread >= 1 && perThread <= 64)) {
    throw new HearthError('INVALID_ARGUMENT', `perThread must be an integer from 1 to 64, got ${perThread}.`);
  }
  const chunk = WG * perThread;
  // finish merges at most HEADS chunk lists per invocation
  const maxVocab = HEADS * WG * chunk;
  if (!(Number.isInteger(vocab) && vocab >= 1 && vocab <= maxVocab)) {
    throw new HearthError('INVALID_ARGUMENT', `The sampler takes a vocabulary of 1 to ${maxVocab} tokens, got ${vocab}.`);
  }
  if (!(Number.isInteger(maxTop) && maxTop >= 0 && maxTop <= MAX_TOP_LOGPROBS)) {
    throw new HearthError('INVALID_ARGUMENT', `maxTopLogprobs must be an integer from 0 to ${MAX_TOP_LOGPROBS}, got ${maxTop}.`);
  }
  const chunks = Math.ceil(vocab / chunk);
  const resultBytes = RESULT_HEADER + 8 * maxTop;
  const align = ctx.limits.minUniformBufferOffsetAlignment;

  const params = createUniform(ctx, PARAMS_BYTES, 'sample.params');
  const levels = createUniform(ctx, SEARCH_LEVELS * align, 'sample.levels');
  const levelIndex = new Uint32Array(align / 4);
  for (let s = 0; s < SEARCH_LEVELS; s++) {
    levelIndex[0] = s;
    writeBuffer(ctx, levels, s * align, levelIndex);
  }
  const counts = createStorage(ctx, vocab * 4, 'sample.counts');
  const z = createStorage(ctx, vocab * 4, 'sample.z');
  const stats = createStorage(ctx, chunks * 16, 'sample.stats');
  const state = createStorage(ctx, STATE_BYTES, 'sample.state');
  const hist = createStorage(ctx, SEARCH_LEVELS * BINS * 3 * 4, 'sample.hist');
  const best = createStorage(ctx, chunks * 8, 'sample.best');
  const cands = createStorage(ctx, chunks * Math.max(1, maxTop) * 8, 'sample.cands');
  const result = createStorage(ctx, resultBytes, 'sample.result');
  const addParams = createUniform(ctx, 16, 'sample.add');
  const maskWords = Math.ceil(vocab / 32);
  // word 0: whether a mask is on; then the bits (shaders/sample.wgsl)
  const mask = createStorage(ctx, (1 + maskWords) * 4, 'sample.mask');
  const maskData = new Uint32Array(1 + maskWords);
  let maskOn = true; // until the first setMask(null) below
  let ids: GPUBuffer | null = null;
  let addGroup: GPUBindGroup | null = null;
  const readback = new Readback(ctx, resultBytes, 'sample.readback');

  // the one-launch greedy pass is a single workgroup: on a CPU driver, a small one, as each of its
  // barriers costs a switch per 4 threads there
  const greedyWg: Record<string, number> = isCpuAdapter(ctx) ? { WG: GREEDY_CPU_LANES ** 2, LANES: GREEDY_CPU_LANES } : {};
  const pipeline = (entry: string) => ctx.pipelines.get(entry === 'greedy' ? GREEDY_WGSL : code, entry, `sample.${entry}`, { PER_THREAD: perThread, FOLDED: folded ? 1 : 0, ...(entry === 'greedy' ? greedyWg : {}) });
  const launch = (entry: string, buffers: Record<number, GPUBuffer | GPUBufferBinding>, grid: () => Grid, label = `sample.${entry}`): Dispatch => {
    const p = pipeline(entry);
    return { label, pipeline: p, bindGroup: bindBuffers(ctx, p, label, buffers), grid };
  };

  // What the current request turns on; the grids read it when each step is recorded.
  // fast: greedy with no top logprobs, one launch (shaders/sample_greedy.wgsl) instead of the passes
  const on = { topK: false, topP: false, topN: false, fast: false };
  const none: Grid = [0, 0, 0];
  const perChunk: Grid = [chunks, 1, 1];
  const one: Grid = [1, 1, 1];

  const passes: Dispatch[] = [
    launch('prepare', { 1: params, 2: a.logits, 3: counts, 4: z, 5: stats, 14: mask }, () => perChunk),
    launch('combine', { 1: params, 5: stats, 6: state, 7: hist }, () => one),
  ];
  for (let s = 0; s < SEARCH_LEVELS; s++) {
    const topK = s < SEARCH_LEVELS / 2;
    const name = `${topK ? 'top_k' : 'top_p'}${s % 4}`;
    const active = () => (topK ? on.topK : on.topP);
    const level = { buffer: levels, offset: s * align, size: 16 };
    if (!folded) passes.push(launch('select_level', { 1: params, 6: state, 7: hist, 11: level }, () => (active() ? one : none), `sample.select_${name}`));
    passes.push(launch('search_level', { 1: params, 4: z, 6: state, 7: hist, 11: level }, () => (active() ? perChunk : none), `sample.${name}`));
  }
  if (!folded) passes.push(launch('select_final', { 1: params, 6: state, 7: hist }, () => one));
  passes.push(
    launch('pick', { 0: a.step, 1: params, 4: z, 6: state, 7: hist, 8: best, 14: mask }, () => perChunk),
    launch('top_raw', { 1: params, 2: a.logits, 9: cands, 14: mask }, () => (on.topN ? perChunk : none)),
    launch('finish', { 1: params, 2: a.logits, 3: counts, 6: state, 8: best, 9: cands, 10: result, 14: mask }, () => one),
  );
  const dispatches: Dispatch[] = [
    launch('greedy', { 1: params, 2: a.logits, 3: counts, 10: result, 14: mask }, () => (on.fast ? one : none)),
    ...passes.map((d): Dispatch => ({ ...d, grid: () => (on.fast ? none : gridFor(d, STEP0)) })),
  ];

  const paramData = new ArrayBuffer(PARAMS_BYTES);
  const setParams = (p: SamplingParams): void => {
    checkParams(p, maxTop);
    const greedy = p.temperature === 0;
    on.topK = !greedy && p.topK > 0 && p.topK < vocab;
    on.topP = !greedy && p.topP < 1;
    on.topN = p.topLogprobs > 0;
    on.fast = greedy && !on.topN;
    const dv = new DataView(paramData);
    const u = (o: number, v: number) => dv.setUint32(o, v, true);
    const f = (o: number, v: number) => dv.setFloat32(o, v, true);
    u(0, vocab);
    u(4, chunks);
    u(8, p.topK);
    u(12, Math.min(p.topLogprobs, vocab));
    u(16, maxTop);
    u(20, on.topK ? 1 : 0);
    u(24, on.topP ? 1 : 0);
    u(28, !greedy && p.minP > 0 ? 1 : 0);
    u(32, greedy ? 1 : 0);
    f(36, greedy ? 1 : 1 / p.temperature);
    f(40, p.topP);
    f(44, p.minP > 0 ? Math.log(p.minP) : 0);
    f(48, p.repetitionPenalty);
    f(52, 1 / p.repetitionPenalty);
    f(56, p.frequencyPenalty);
    f(60, p.presencePenalty);
    writeBuffer(ctx, params, 0, dv);
  };
  setParams(GREEDY);

  const setMask = (bits: Uint32Array | null): void => {
    if (bits === null) {
      if (!maskOn) return;
      maskOn = false;
      maskData[0] = 0;
      writeBuffer(ctx, mask, 0, maskData.subarray(0, 1));
      return;
    }
    if (bits.length < maskWords) throw new HearthError('INVALID_ARGUMENT', `A token mask for ${vocab} tokens needs ${maskWords} words, got ${bits.length}.`);
    maskOn = true;
    maskData[0] = 1;
    maskData.set(bits.subarray(0, maskWords), 1);
    writeBuffer(ctx, mask, 0, maskData);
  };
  setMask(null);

  return {
    dispatches,
    setParams,
    setMask,
    resetCounts() {
      const enc = ctx.device.createCommandEncoder({ label: 'sample.reset' });
      enc.clearBuffer(counts);
      ctx.device.queue.submit([enc.finish()]);
    },
    addCounts(tokens: number[]) {
      if (tokens.length === 0) return;
      for (const id of tokens) {
        if (!(Number.isInteger(id) && id >= 0 && id < vocab)) {
          throw new HearthError('INVALID_ARGUMENT', `Token id ${id} is outside the vocabulary (0..${vocab - 1}).`);
        }
      }
      if (!ids || ids.size < tokens.length * 4) {
        // grows per request at most, never per token
        ids?.destroy();
        ids = createStorage(ctx, Math.max(tokens.length, 256) * 4, 'sample.ids');
        const p = pipeline('add_counts');
        addGroup = bindBuffers(ctx, p, 'sample.add_counts', { 1: params, 3: counts, 12: ids, 13: addParams });
      }
      writeBuffer(ctx, ids, 0, Uint32Array.from(tokens));
      writeBuffer(ctx, addParams, 0, new Uint32Array([tokens.length]));
      const enc = ctx.device.createCommandEncoder({ label: 'sample.add_counts' });
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline('add_counts'));
      pass.setBindGroup(0, addGroup!);
      const [x, y] = grid1d(ctx, Math.ceil(tokens.length / WG));
      pass.dispatchWorkgroups(x, y);
      pass.end();
      ctx.device.queue.submit([enc.finish()]);
    },
    copyResult(enc: GPUCommandEncoder) {
      readback.copyFrom(enc, result);
    },
    async readResult() {
      return decodeSampleResult(await readback.read());
    },
    destroy() {
      for (const b of [params, levels, counts, z, stats, state, hist, best, cands, result, addParams, mask]) b.destroy();
      ids?.destroy();
      readback.destroy();
    },
    resultBuffer: result,
    resultBytes,
  };
}
