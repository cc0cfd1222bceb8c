/**
 * The kernels of batched decoding over the paged KV pool (models/kv-pool.ts): RoPE + KV append
 * per row at that row's own position into its own blocks, and decode attention per row over its
 * own sequence through its block table (shaders/paged.wgsl). A row is one sequence's next token.
 */
import common from '../../shaders/common.wgsl?raw';
import ropeMath from '../../shaders/rope_math.wgsl?raw';
import rope from '../../shaders/rope.wgsl?raw';
import source from '../../shaders/paged.wgsl?raw';
import { check } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { createStorage, uploadUniform, type BufferRange } from '../gpu/buffers.js';
import { bindBuffers, grid1d, type Dispatch, type StepParams } from '../gpu/dispatch.js';
import { checkRopeShape, ropeParams, type RopeStyle } from './rope.js';

const code = `${common}\n${ropeMath}\n${rope}\n${source}`;

/** The pool and block tables the paged kernels read (one layer's K and V pools). */
export interface PagedShape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  blockSize: number;
  /** Block table width: blocks per sequence at most. */
  maxBlocks: number;
  /** Rows (sequences) per submit at most. */
  maxRows: number;
}

/** Words per row of the block table: the row's position, then its block ids. */
export const tableStride = (s: PagedShape): number => 1 + s.maxBlocks;

/** Bytes of the block table buffer for `s`. */
export const tableBytes = (s: PagedShape): number => s.maxRows * tableStride(s) * 4;

/** Bytes of the attention's score scratch: [maxRows, nHeads, maxBlocks * blockSize] f32. */
export const pagedScratchBytes = (s: PagedShape): number => s.maxRows * s.nHeads * s.maxBlocks * s.blockSize * 4;

function pagedParams(ctx: GpuContext, s: PagedShape, window: number, scale: number, label: string): GPUBuffer {
  const data = new ArrayBuffer(32);
  const u = new Uint32Array(data);
  u.set([s.nHeads, s.nKvHeads, s.blockSize, s.maxBlocks, window]);
  new Float32Array(data)[5] = scale;
  u[6] = s.maxBlocks * s.blockSize;
  return uploadUniform(ctx, u, `${label}.paged`);
}

function checkShape(s: PagedShape, label: string): void {
  const dims: [string, number][] = [['nHeads', s.nHeads], ['nKvHeads', s.nKvHeads], ['headDim', s.headDim], ['blockSize', s.blockSize], ['maxBlocks', s.maxBlocks], ['maxRows', s.maxRows]];
  for (const [n, v] of dims) check(Number.isInteger(v) && v >= 1, `${label}: ${n} must be a positive integer, got ${v}.`);
  check(s.nHeads % s.nKvHeads === 0, `${label}: ${s.nHeads} query heads do not split into ${s.nKvHeads} KV head groups.`);
  check(s.headDim % 2 === 0, `${label}: head dimension must be even, got ${s.headDim}.`);
}

export interface PagedAppendArgs extends PagedShape {
  step: GPUBuffer;
  /** [rows, nHeads, headDim] f32, rotated in place. */
  q: BufferRange;
  /** [rows, nKvHeads, headDim] f32 */
  k: BufferRange;
  v: BufferRange;
  /** One layer's pools, [blocks, nKvHeads, blockSize, headDim] f32. */
  kPool: GPUBuffer;
  vPool: GPUBuffer;
  table: GPUBuffer;
  rope: { invFreq: GPUBuffer; rotaryDim: number; style: RopeStyle };
}

/**
 * Rotate q and k of each of step.tokens rows at its position, and write its k, v into its block:
 * two launches (q is rotated in place in its own, as it may share a buffer with k and v).
 */
export function pagedAppend(ctx: GpuContext, a: PagedAppendArgs, label = 'paged_append'): Dispatch[] {
  checkShape(a, label);
  checkRopeShape(a.headDim, a.rope.rotaryDim, a.rope.invFreq, label);
  check(a.q.size >= a.maxRows * a.nHeads * a.headDim * 4 && a.k.size >= a.maxRows * a.nKvHeads * a.headDim * 4 && a.v.size >= a.maxRows * a.nKvHeads * a.headDim * 4, `${label}: q, k and v must hold maxRows rows.`);
  check(a.table.size >= tableBytes(a), `${label}: the block table must hold maxRows x (1 + maxBlocks) words.`);
  const overrides = { INTERLEAVED: a.rope.style === 'interleaved' ? 1 : 0 };
  const ropeQ = ctx.pipelines.get(code, 'paged_rope_q', 'paged_rope_q', overrides);
  const append = ctx.pipelines.get(code, 'paged_append', 'paged_append', overrides);
  const params = ropeParams(ctx, a.nHeads, a.headDim, a.rope.rotaryDim, 0, label);
  const paged = pagedParams(ctx, a, 0, 1, label);
  const rows = (s: StepParams) => {
    check(s.tokens <= a.maxRows, `${label}: ${s.tokens} rows in one step, prepared for at most ${a.maxRows}.`);
    return s.tokens;
  };
  return [
    {
      label: `${label}.rope_q`,
      pipeline: ropeQ,
      bindGroup: bindBuffers(ctx, ropeQ, `${label}.rope_q`, { 0: a.step, 1: params, 2: a.rope.invFreq, 3: a.q, 8: paged, 9: a.table }),
      owned: [params, paged],
      grid: (s) => grid1d(ctx, Math.ceil((rows(s) * a.nHeads * (a.rope.rotaryDim / 2)) / 64)),
    },
    {
      label,
      pipeline: append,
      bindGroup: bindBuffers(ctx, append, label, { 0: a.step, 1: params, 2: a.rope.invFreq, 4: a.k, 5: a.v, 6: a.kPool, 7: a.vPool, 8: paged, 9: a.table }),
      grid: (s) => grid1d(ctx, Math.ceil((rows(s) * a.nKvHeads * (a.headDim / 2)) / 64)),
    },
  ];
}

export interface PagedAttentionArgs extends PagedShape {
  step: GPUBuffer;
  /** [rows, nHeads, headDim] f32 (rotated) */
  q: BufferRange;
  kPool: GPUBuffer;
  vPool: GPUBuffer;
  table: GPUBuffer;
  /** [rows, nHeads * headDim] f32 */
  out: GPUBuffer;
  /** pagedScratchBytes(shape), shared by every layer's launch. */
  scratch: GPUBuffer;
  scale?: number;
  /** Sliding window (as AttentionArgs.window); 0 or absent: full causal attention. */
  window?: number;
}

/** att[r] = softmax(q[r] K_r^T * scale) V_r over row r's positions 0..pos[r] (within the window). */
export function pagedAttention(ctx: GpuContext, a: PagedAttentionArgs, label = 'paged_attention'): Dispatch {
  checkShape(a, label);
  check(a.scratch.size >= pagedScratchBytes(a), `${label}: the scratch must hold maxRows x nHeads x maxBlocks x blockSize floats.`);
  check(a.table.size >= tableBytes(a), `${label}: the block table must hold maxRows x (1 + maxBlocks) words.`);
  check(a.out.size >= a.maxRows * a.nHeads * a.headDim * 4, `${label}: out must hold maxRows rows.`);
  const pipeline = ctx.pipelines.get(code, 'paged_attention', 'paged_attention');
  const params = ropeParams(ctx, a.nHeads, a.headDim, 2, 0, label);
  const paged = pagedParams(ctx, a, a.window ?? 0, a.scale ?? 1 / Math.sqrt(a.headDim), label);
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, pipeline, label, { 0: a.step, 1: params, 3: a.q, 6: a.kPool, 7: a.vPool, 8: paged, 9: a.table, 10: a.out, 11: a.scratch }),
    owned: [params, paged],
    grid: (s) => {
      check(s.tokens <= a.maxRows, `${label}: ${s.tokens} rows in one step, prepared for at most ${a.maxRows}.`);
      return [a.nHeads, s.tokens, 1];
    },
  };
}

/** A scratch for pagedAttention. */
export function createPagedScratch(ctx: GpuContext, s: PagedShape): GPUBuffer {
  return createStorage(ctx, pagedScratchBytes(s), 'paged_attention.scratch');
}
