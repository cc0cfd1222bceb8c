import common from '../../shaders/common.wgsl?raw';
import ropeMath from '../../shaders/rope_math.wgsl?raw';
import rope from '../../shaders/rope.wgsl?raw';
import source from '../../shaders/kv_append.wgsl?raw';
import cachesF32 from '../../shaders/kv_append_f32.wgsl?raw';
import cachesF16 from '../../shaders/kv_append_f16.wgsl?raw';
import cachesQ8 from '../../shaders/kv_append_q8.wgsl?raw';
import int8x4 from '../../shaders/int8x4.wgsl?raw';
import { check, HearthError } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import type { BufferRange } from '../gpu/buffers.js';
import { bindBuffers, grid1d, type Dispatch } from '../gpu/dispatch.js';
import { KV_FORMATS, type KvFormat } from '../quant/kv-format.js';
import { checkRopeShape, ropeParams, type RopeStyle } from './rope.js';

export { KV_FORMATS, type KvFormat };

/** Values per scale of a q8 cache: 32, or the largest of 16, 8, 4 that divides headDim. */
export function kvBlock(headDim: number): number {
  const b = [32, 16, 8, 4].find((n) => headDim % n === 0);
  if (!b) throw new HearthError('UNSUPPORTED_ARCHITECTURE', `A q8 KV cache needs a head dimension divisible by 4, got ${headDim}.`, { hint: "Load the model with kvCache: 'f32' or 'f16'." });
  return b;
}

/** Bytes a cache tensor of `values` values takes (q8: int8 values, then one f32 scale per block). */
export function kvBytes(format: KvFormat, values: number, headDim: number): number {
  if (format === 'f32') return values * 4;
  if (format === 'f16') return values * 2;
  return values + (values / kvBlock(headDim)) * 4;
}

/** The overrides a q8 cache's shaders take: block size and the word where the scales start. */
export function kvQ8Constants(values: number, headDim: number): { block: number; scalesWord: number } {
  return { block: kvBlock(headDim), scalesWord: values / 4 };
}

const CACHES: Record<KvFormat, string> = { f32: cachesF32, f16: cachesF16, q8: `${int8x4}\n${cachesQ8}` };
const code = (kv: KvFormat) => `${common}\n${ropeMath}\n${rope}\n${source}\n${CACHES[kv]}`;

export interface KvAppendArgs {
  step: GPUBuffer;
  /** This step's keys and values, [maxTokens, nKvHeads, headDim] f32. */
  k: BufferRange;
  v: BufferRange;
  /** One layer's caches, [nKvHeads, maxCtx, headDim] in kvFormat. */
  kCache: GPUBuffer;
  vCache: GPUBuffer;
  /** 'f32' (default), 'f16' or 'q8'. */
  kvFormat?: KvFormat;
  nKvHeads: number;
  headDim: number;
  maxCtx: number;
  maxTokens: number;
  /** Rotate K on the way into the cache (fused RoPE + append). */
  rope?: { invFreq: GPUBuffer; rotaryDim: number; style: RopeStyle };
}

/** Write k, v rows of this step into the caches at positions step.pos .. step.pos + tokens - 1. */
export function kvAppend(ctx: GpuContext, a: KvAppendArgs, label = 'kv_append'): Dispatch {
  check(Number.isInteger(a.headDim) && a.headDim > 0 && a.headDim % 2 === 0, `${label}: head dimension must be a positive even integer, got ${a.headDim}.`);
  if (a.rope) checkRopeShape(a.headDim, a.rope.rotaryDim, a.rope.invFreq, label);
  const rowFloats = a.nKvHeads * a.headDim;
  check(a.k.size >= a.maxTokens * rowFloats * 4 && a.v.size >= a.maxTokens * rowFloats * 4, `${label}: k and v must hold maxTokens x nKvHeads x headDim floats.`);
  const kv = a.kvFormat ?? 'f32';
  const cacheBytes = kvBytes(kv, a.maxCtx * rowFloats, a.headDim);
  check(a.kCache.size >= cacheBytes && a.vCache.size >= cacheBytes, `${label}: the caches must hold nKvHeads x maxCtx x headDim ${kv} values.`);
  const q8 = kv === 'q8' ? kvQ8Constants(a.maxCtx * rowFloats, a.headDim) : null;
  const constants = { ...(a.rope ? { INTERLEAVED: a.rope.style === 'interleaved' ? 1 : 0 } : {}), ...(q8 ? { BLOCK: q8.block, KV_SCALES: q8.scalesWord } : {}) };
  const pipeline = ctx.pipelines.get(code(kv), a.rope ? 'kv_append_rope' : 'kv_append_copy', 'kv_append', constants);
  const params = ropeParams(ctx, a.nKvHeads, a.headDim, a.rope?.rotaryDim ?? 0, a.maxCtx, label);
  const buffers: Record<number, BufferRange> = { 0: a.step, 1: params, 4: a.k, 5: a.v, 6: a.kCache, 7: a.vCache };
  if (a.rope) buffers[2] = a.rope.invFreq;
  // an invocation per element pair (f32, f16) or per q8 block
  const perToken = a.nKvHeads * (q8 ? a.headDim / q8.block : a.headDim / 2);
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, pipeline, label, buffers),
    owned: [params],
    grid: (s) => {
      check(s.tokens <= a.maxTokens, `${label}: ${s.tokens} tokens in one step, prepared for at most ${a.maxTokens}.`);
      if (s.pos + s.tokens > a.maxCtx) {
        throw new HearthError('CONTEXT_OVERFLOW', `${label}: positions up to ${s.pos + s.tokens} do not fit a KV cache of ${a.maxCtx}.`, {
          hint: 'Shorten the prompt or the requested completion, or load the model with a longer context.',
        });
      }
      return grid1d(ctx, Math.ceil((s.tokens * perToken) / 64));
    },
  };
}
