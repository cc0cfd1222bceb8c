import common from '../../shaders/common.wgsl?raw';
import ropeMath from '../../shaders/rope_math.wgsl?raw';
import rope from '../../shaders/rope.wgsl?raw';
import source from '../../shaders/kv_append.wgsl?raw';
import cachesF32 from '../../shaders/kv_append_f32.wgsl?raw';
import cachesF16 from '../../shaders/kv_append_f16.wgsl?raw';
import { check, HearthError } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import type { BufferRange } from '../gpu/buffers.js';
import { bindBuffers, grid1d, type Dispatch } from '../gpu/dispatch.js';
import { checkRopeShape, ropeParams, type RopeStyle } from './rope.js';

/**
 * How a KV cache holds its values: 'f32', or 'f16' with two halves packed in a u32 (packed and
 * unpacked with pack2x16float / unpack2x16float: no shader-f16 needed), half the memory and reads.
 */
export type KvFormat = 'f32' | 'f16';
export const KV_FORMATS: readonly KvFormat[] = ['f32', 'f16'];
/** Bytes per cached value. */
export const KV_BYTES: Readonly<Record<KvFormat, number>> = { f32: 4, f16: 2 };

const CACHES: Record<KvFormat, string> = { f32: cachesF32, f16: cachesF16 };
const code = (kv: KvFormat) => `${common}\n${ropeMath}\n${rope}\n${source}\n${CACHES[kv]}`;

export interface KvAppendArgs {
  step: GPUBuffer;
  /** This step's keys and values, [maxTokens, nKvHeads, headDim] f32. */
  k: BufferRange;
  v: BufferRange;
  /** One layer's caches, [nKvHeads, maxCtx, headDim] in kvFormat. */
  kCache: GPUBuffer;
  vCache: GPUBuffer;
  /** 'f32' (default) or 'f16'. */
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
  const cacheBytes = a.maxCtx * rowFloats * KV_BYTES[kv];
  check(a.kCache.size >= cacheBytes && a.vCache.size >= cacheBytes, `${label}: the caches must hold nKvHeads x maxCtx x headDim ${kv} values.`);
  const pipeline = a.rope
    ? ctx.pipelines.get(code(kv), 'kv_append_rope', 'kv_append', { INTERLEAVED: a.rope.style === 'interleaved' ? 1 : 0 })
    : ctx.pipelines.get(code(kv), 'kv_append_copy', 'kv_append');
  const params = ropeParams(ctx, a.nKvHeads, a.headDim, a.rope?.rotaryDim ?? 0, a.maxCtx, label);
  const buffers: Record<number, BufferRange> = { 0: a.step, 1: params, 4: a.k, 5: a.v, 6: a.kCache, 7: a.vCache };
  if (a.rope) buffers[2] = a.rope.invFreq;
  const pairsPerToken = a.nKvHeads * (a.headDim / 2);
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
      return grid1d(ctx, Math.ceil((s.tokens * pairsPerToken) / 64));
    },
  };
}
