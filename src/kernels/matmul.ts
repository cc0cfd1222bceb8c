import common from '../../shaders/common.wgsl?raw';
import io from '../../shaders/matmul_io.wgsl?raw';
import xVec4 from '../../shaders/matmul_x_vec4.wgsl?raw';
import xScalar from '../../shaders/matmul_x_scalar.wgsl?raw';
import gemvCommon from '../../shaders/matmul_gemv.wgsl?raw';
import gemvSubgroup from '../../shaders/matmul_gemv_sg.wgsl?raw';
import gemvWorkgroup from '../../shaders/matmul_gemv_wg.wgsl?raw';
import gemmTiled from '../../shaders/matmul_gemm_tiled.wgsl?raw';
import gemmRegister from '../../shaders/matmul_gemm_register.wgsl?raw';
import unmasked from '../../shaders/weights_unmasked.wgsl?raw';
import gemvI8 from '../../shaders/matmul_gemv_i8.wgsl?raw';
import xGated from '../../shaders/matmul_x_gated.wgsl?raw';
import activations from '../../shaders/activations.wgsl?raw';
import prologuePlain from '../../shaders/matmul_prologue.wgsl?raw';
import prologueNorm from '../../shaders/matmul_prologue_norm.wgsl?raw';
import prologueNormPre from '../../shaders/matmul_prologue_norm_pre.wgsl?raw';
import epiloguePlain from '../../shaders/matmul_epilogue.wgsl?raw';
import epilogueRopeKv from '../../shaders/matmul_epilogue_rope_kv.wgsl?raw';
import epilogueGated from '../../shaders/matmul_epilogue_gated.wgsl?raw';
import epilogueNormOut from '../../shaders/matmul_epilogue_norm_out.wgsl?raw';
import ropeMath from '../../shaders/rope_math.wgsl?raw';
import kvF32 from '../../shaders/matmul_kv_f32.wgsl?raw';
import kvF16 from '../../shaders/matmul_kv_f16.wgsl?raw';
import { HearthError, check } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { isCpuAdapter } from '../gpu/device.js';
import { createStorage, createUniform, uploadUniform, writeBuffer } from '../gpu/buffers.js';
import { bindBuffers, grid1d, type Dispatch, type Grid, type StepParams } from '../gpu/dispatch.js';
import type { GpuWeight, WeightPart } from '../gpu/weights.js';
import { FORMATS, type WeightFormat } from '../quant/formats.js';
import type { GatedActivation } from './silu_mul.js';
import { packAct, packedActBytes } from './quantize_act.js';
import type { RopeStyle } from './rope.js';
import { kvBytes, type KvFormat } from './kv_append.js';

/**
 * 'tiled': cooperative GEMV (subgroup or workgroup reduction) and a workgroup-memory tiled GEMM,
 * for GPUs. 'register': barrier-free, register-blocked kernels for CPU drivers, where barriers
 * cost more than the reuse they buy.
 */
export type MatmulVariant = 'tiled' | 'register';

export interface MatmulArgs {
  /** StepUniform buffer; M = step.tokens. */
  step: GPUBuffer;
  /** Activations [M, K] f32, row-major. */
  x: GPUBuffer;
  /** [N, K]: y = x @ w^T. */
  w: GpuWeight;
  /** Output [M, N] f32 ([1, N] with lastRowOnly). */
  y: GPUBuffer;
  /** [N] f32, added to every row. */
  bias?: GPUBuffer;
  /** The largest M this launch will ever see. */
  maxTokens: number;
  /** Compute only y[0, :] = x[M - 1, :] @ w^T (logits of the last prompt token); always the GEMV. */
  lastRowOnly?: boolean;
  /** y += x @ w^T instead of y = (adds straight into the residual stream). */
  accumulate?: boolean;
  /** Force a kernel family; by default 'register' on CPU adapters, 'tiled' elsewhere. */
  variant?: MatmulVariant;
  /**
   * Cut y's N columns into up to three consecutive sections, each stored as its own [M, width]
   * block starting `offset` floats into y (a fused Q|K|V projection writing q, k and v apart).
   * Widths must add up to N.
   */
  sections?: { width: number; offset: number }[];
  /**
   * Decode fusions: what the GEMV does on the way in and out so that the memory-bound steps around a
   * matmul are not launches of their own. With a fusion only the GEMV is prepared (it runs when
   * step.tokens == 1, or at every step with lastRowOnly); prefill records the unfused launches.
   */
  fusion?: MatmulFusion;
  /** Prepare the GEMM alone (prefill), for a caller whose decode GEMV is a fused one of its own. */
  gemmOnly?: boolean;
  /**
   * Integer dot products in the GEMV: its input row is packed to int8 blocks of 32 (one launch
   * before it, kernels/quantize_act.ts packAct) and meets the weights' int8 chunks in
   * dot4I8Packed. Taken where the device has packed_4x8_integer_dot_product, the format has
   * integer chunks (FormatSpec.intDot) and no prologue fusion reads x; the f32 GEMV otherwise.
   * The GEMM (prefill) stays f32.
   */
  intDot?: boolean;
  /** Rows per thread of the register (CPU-driver) f32 GEMV: 16 (default), 8 or 4. For A/B benchmarks. */
  registerRows?: 4 | 8 | 16;
}

/** Whether a matmul with these arguments takes the integer-dot GEMV (MatmulArgs.intDot). */
export function usesIntDot(ctx: GpuContext, a: Pick<MatmulArgs, 'intDot' | 'w' | 'fusion'>): boolean {
  return a.intDot === true && ctx.features.packedDot4x8 && FORMATS[a.w.format].intDot && !a.fusion?.norm && !a.fusion?.gated;
}

export interface MatmulFusion {
  /**
   * Prologue: y = (rmsnorm(x) * weight) @ w^T; x is the raw residual row, never normed in memory.
   * With `partials`, x is already x * weight and `partials` the row's sums of squares by groups of
   * four columns, both written by the previous residual GEMV's `normOut` epilogue: the GEMV then
   * adds K / 4 partials once instead of squaring and weighting every chunk in every thread.
   */
  norm?: { weight: GPUBuffer; eps: number; partials?: GPUBuffer };
  /**
   * Epilogue of a residual GEMV (y = x, accumulate) feeding the next RMSNorm's GEMV: also writes
   * xg = y * weight and the partial sums of squares of y by groups of four columns (normPartialsBytes).
   */
  normOut?: { weight: GPUBuffer; xg: GPUBuffer; partials: GPUBuffer };
  /**
   * Prologue: the input is act(gate) * up. `x` holds gate rows `stride` floats apart; up sits
   * `upOffset` floats into the same row of `up` (the fused gate|up buffer again: stride 2K, offset K).
   */
  gated?: { up: GPUBuffer; stride: number; upOffset: number; activation: GatedActivation };
  /**
   * Epilogue of a fused Q|K|V projection (three sections): rotate q and k by the step's position
   * (either pair convention; rotate-half needs rotaryDim % 4 == 0), store q into section 0 of y, k
   * and v into the layer's caches [kvHeads, maxCtx, headDim] at that position.
   */
  ropeKv?: { invFreq: GPUBuffer; rotaryDim: number; style: RopeStyle; headDim: number; kCache: GPUBuffer; vCache: GPUBuffer; maxCtx: number; kvFormat?: KvFormat };
  /**
   * Epilogue of a fused gate|up projection (w's rows: I gate rows, then I up rows; I even): y is
   * [M, I] and takes act(gate) * up, the down projection's input.
   */
  gatedOut?: { activation: GatedActivation };
}

/** Bytes of the partial sums of squares a normOut epilogue writes for a row of `cols` (K / 4 floats in whole, zero-padded vec4s). */
export function normPartialsBytes(cols: number): number {
  return Math.ceil(cols / 16) * 16;
}

const FLAG_BIAS = 1; // shaders/matmul_io.wgsl
const FLAG_ACCUMULATE = 2;
const GEMV_ROWS = 4; // shaders/matmul_gemv.wgsl
const GEMV_WG = 64;
const TILE = 64; // shaders/matmul_gemm_tiled.wgsl
const REG_M = 8; // rows of x per thread of gemm_register (shaders/matmul_gemm_register.wgsl)
// rows of w per thread of gemm_register: each x value it gathers (a CPU driver's dearest operation)
// meets 16 of them; with 4 (as before) the GEMM ran 1.5-2x slower
const GEMM_REG_ROWS = 16;
const GEMM_REG_WG = 4; // threads per workgroup of gemm_register
const REG_N = 4; // rows of w per thread of gemv_i8_register (shaders/matmul_gemv_i8.wgsl)
// Small workgroups so even a 576-row matrix spreads over all of a CPU's cores.
const REG_WG = 16;
const GEMV_REG_WG = 4; // threads per workgroup of gemv_register (shaders/matmul_gemm_register.wgsl)

type Family = 'gemv' | 'tiled' | 'register' | 'i8';

function shaderCode(format: WeightFormat, k: number, family: Family, subgroups: boolean, fusion: MatmulFusion = {}): string {
  // whole vec4 loads of x need rows starting on a vec4 and chunks that never run past a row
  const xAligned = k % (format === 'f32' ? 4 : 8) === 0;
  const kernel = { gemv: [gemvCommon], tiled: [gemmTiled], register: [gemmRegister], i8: [gemvI8] }[family];
  return [
    // first: `enable subgroups;` must precede every declaration
    ...(family === 'gemv' ? [subgroups ? gemvSubgroup : gemvWorkgroup] : []),
    common,
    io,
    ...(fusion.gated || fusion.gatedOut ? [activations] : []),
    fusion.gated ? xGated : xAligned ? xVec4 : xScalar,
    fusion.norm ? (fusion.norm.partials ? prologueNormPre : prologueNorm) : prologuePlain,
    ...(fusion.ropeKv ? [ropeMath, fusion.ropeKv.kvFormat === 'f16' ? kvF16 : kvF32, epilogueRopeKv] : [fusion.gatedOut ? epilogueGated : fusion.normOut ? epilogueNormOut : epiloguePlain]),
    FORMATS[format].wgsl, // src/quant/: the format's piece (shaders/weights_<format>.wgsl)
    ...(family === 'register' && !FORMATS[format].masked ? [unmasked] : []),
    ...kernel,
  ].join('\n');
}

const zeroBias = new WeakMap<GPUDevice, GPUBuffer>();

/** Bound in place of a missing bias: layout 'auto' keeps every binding the shader names. */
function dummyBias(ctx: GpuContext): GPUBuffer {
  let b = zeroBias.get(ctx.device);
  if (!b) {
    b = createStorage(ctx, 16, 'matmul.no-bias');
    zeroBias.set(ctx.device, b);
  }
  return b;
}

function checkArgs(a: MatmulArgs): void {
  const { rows: n, cols: k } = a.w;
  check(Number.isInteger(a.maxTokens) && a.maxTokens >= 1, `matmul: maxTokens must be a positive integer, got ${a.maxTokens}.`);
  check(a.x.size >= a.maxTokens * k * 4, `matmul: x holds ${a.x.size} bytes, less than maxTokens (${a.maxTokens}) x K (${k}) floats.`);
  const yRows = a.lastRowOnly ? 1 : a.maxTokens;
  // the gated epilogue writes one value per gate|up pair of rows
  const yCols = a.fusion?.gatedOut ? n / 2 : n;
  check(a.y.size >= yRows * yCols * 4, `matmul: y holds ${a.y.size} bytes, less than ${yRows} x ${yCols} floats.`);
  if (a.bias) check(a.bias.size >= n * 4, `matmul: bias holds ${a.bias.size} bytes, less than N (${n}) floats.`);
  if (a.sections) {
    check(a.sections.length >= 1 && a.sections.length <= 3, `matmul: 1 to 3 output sections, got ${a.sections.length}.`);
    check(a.sections.reduce((s, x) => s + x.width, 0) === n, `matmul: section widths add up to ${a.sections.reduce((s, x) => s + x.width, 0)}, not N (${n}).`);
    for (const s of a.sections) {
      check(Number.isInteger(s.width) && s.width > 0 && Number.isInteger(s.offset) && s.offset >= 0, 'matmul: section widths must be positive integers and offsets non-negative integers.');
      check(a.y.size >= (s.offset + yRows * s.width) * 4, `matmul: y holds ${a.y.size} bytes, too few for a section of ${yRows} x ${s.width} floats at ${s.offset}.`);
    }
  }
}

/** Params fields s1, s2, o0, o1, o2, w0, w1, w2 (shaders/matmul_io.wgsl) for `sections`. */
function sectionFields(n: number, sections: MatmulArgs['sections']): number[] {
  const s = sections ?? [{ width: n, offset: 0 }];
  const w = [s[0]!.width, s[1]?.width ?? 0, s[2]?.width ?? 0];
  const o = [s[0]!.offset, s[1]?.offset ?? 0, s[2]?.offset ?? 0];
  const s1 = s.length > 1 ? w[0]! : n;
  const s2 = s.length > 2 ? w[0]! + w[1]! : n;
  return [s1, s2, ...o, ...w];
}

function tokensOf(s: StepParams, maxTokens: number, label: string): number {
  if (s.tokens > maxTokens) {
    throw new HearthError('INVALID_ARGUMENT', `${label}: step has ${s.tokens} tokens, more than the ${maxTokens} it was prepared for.`, {
      hint: 'Prepare the matmul with a larger maxTokens, or split the prompt into smaller chunks.',
    });
  }
  return s.tokens;
}

const NONE: Grid = [0, 0, 0];

const FUSED_BYTES = 32 + 128 * 4; // shaders/matmul_io.wgsl, struct Fused

/** The Fused uniform and the extra bindings of a fused GEMV (none without a fusion). */
function fusionBuffers(ctx: GpuContext, a: MatmulArgs, label: string): { buffers: Record<number, GPUBuffer>; owned: GPUBuffer[] } {
  const f = a.fusion;
  if (!f || (!f.norm && !f.gated && !f.ropeKv && !f.gatedOut && !f.normOut)) return { buffers: {}, owned: [] };
  check([f.ropeKv, f.gatedOut, f.normOut].filter(Boolean).length <= 1, `${label}: a fused matmul takes one epilogue, RoPE/KV, gated or norm-feeding.`);
  const { cols: k, rows: n } = a.w;
  check(!(f.norm && f.gated), `${label}: a fused matmul takes one prologue, norm or gated.`);
  const data = new DataView(new ArrayBuffer(32));
  const buffers: Record<number, GPUBuffer> = {};
  if (f.norm) {
    check(f.norm.weight.size >= k * 4, `${label}: the norm weight holds ${f.norm.weight.size / 4} floats, fewer than K (${k}).`);
    check(Number.isFinite(f.norm.eps) && f.norm.eps >= 0, `${label}: the norm's eps must be a non-negative number, got ${f.norm.eps}.`);
    data.setFloat32(0, f.norm.eps, true);
    if (f.norm.partials) check(f.norm.partials.size >= normPartialsBytes(k), `${label}: the norm's partial sums hold ${f.norm.partials.size} bytes, fewer than ${normPartialsBytes(k)}.`);
    buffers[10] = f.norm.partials ?? f.norm.weight;
  }
  if (f.normOut) {
    const { weight, xg, partials } = f.normOut;
    check(!a.sections && !a.bias && a.accumulate === true && !a.lastRowOnly && a.w.parts.every((p) => p.rowStart % 4 === 0), `${label}: the norm-feeding epilogue takes a residual GEMV (accumulate; no bias, sections or lastRowOnly; parts on whole groups of four rows).`);
    check(weight.size >= n * 4 && xg.size >= n * 4 && partials.size >= normPartialsBytes(n), `${label}: the norm-feeding epilogue needs N (${n}) floats of norm weight and xg and ${normPartialsBytes(n)} bytes of partials.`);
    buffers[13] = weight;
    buffers[14] = xg;
    buffers[15] = partials;
  }
  if (f.gated) {
    const { stride, upOffset, up } = f.gated;
    check(Number.isInteger(stride) && stride >= k && Number.isInteger(upOffset) && upOffset >= 0, `${label}: gated rows need a stride of at least K (${k}) floats and a non-negative up offset.`);
    check(a.x.size >= ((a.maxTokens - 1) * stride + k) * 4 && up.size >= ((a.maxTokens - 1) * stride + upOffset + k) * 4, `${label}: gate and up must hold maxTokens rows of ${stride} floats.`);
    data.setUint32(4, stride, true);
    data.setUint32(8, upOffset, true);
    buffers[11] = up;
  }
  const r = f.ropeKv;
  if (r) {
    const s = a.sections;
    check(!a.bias && !a.accumulate && !a.lastRowOnly, `${label}: the RoPE/KV epilogue takes no bias, accumulate or lastRowOnly.`);
    check(a.w.parts.length === 1 && s?.length === 3, `${label}: the RoPE/KV epilogue needs one Q|K|V weight part with three output sections.`);
    check(Number.isInteger(r.headDim) && r.headDim > 0 && r.headDim % 4 === 0, `${label}: the RoPE/KV epilogue needs a head size that is a multiple of 4, got ${r.headDim}.`);
    check(Number.isInteger(r.rotaryDim) && r.rotaryDim > 0 && r.rotaryDim % 2 === 0 && r.rotaryDim <= r.headDim && r.rotaryDim <= 256, `${label}: rotary dimension ${r.rotaryDim} must be even and within the head (${r.headDim}) and 256.`);
    check(r.style === 'interleaved' || r.rotaryDim % 4 === 0, `${label}: the rotate-half RoPE/KV epilogue needs a rotary dimension that is a multiple of 4, got ${r.rotaryDim}.`);
    check(s!.every((x) => x.width % r.headDim === 0) && s![1]!.width === s![2]!.width, `${label}: q, k and v sections must be whole heads, k and v alike.`);
    // a q8 block's scale needs the whole block: its caches are written by kv_append
    check(r.kvFormat !== 'q8', `${label}: the RoPE/KV epilogue writes f32 or f16 caches, not q8.`);
    const cache = kvBytes(r.kvFormat ?? 'f32', (s![1]!.width / r.headDim) * r.maxCtx * r.headDim, r.headDim);
    check(r.kCache.size >= cache && r.vCache.size >= cache, `${label}: the caches must hold kvHeads x maxCtx x headDim ${r.kvFormat ?? 'f32'} values.`);
    check(r.invFreq.size >= (r.rotaryDim / 2) * 4, `${label}: the inverse-frequency table holds ${r.invFreq.size / 4} floats, needs ${r.rotaryDim / 2}.`);
    data.setUint32(12, r.headDim, true);
    data.setUint32(16, r.rotaryDim / 2, true);
    data.setUint32(20, r.maxCtx, true);
    buffers[7] = r.kCache;
    buffers[8] = r.vCache;
  }
  if (f.gatedOut) {
    const inter = n / 2;
    check(!a.bias && !a.accumulate && !a.sections && a.w.parts.length === 1 && Number.isInteger(inter) && inter % 2 === 0, `${label}: the gated epilogue needs one gate|up weight part of 2I rows, I even, and no bias, accumulate or sections.`);
    data.setUint32(24, inter, true);
  }
  // the norm-feeding epilogue reads no Fused field: alone, the shader binds no uniform at 12
  if (!f.norm && !f.gated && !f.ropeKv && !f.gatedOut) return { buffers, owned: [] };
  const fbuf = createUniform(ctx, FUSED_BYTES, `${label}.fused`);
  writeBuffer(ctx, fbuf, 0, data);
  if (r) {
    // the inverse frequencies live in a storage buffer; the epilogue reads them from the uniform
    const enc = ctx.device.createCommandEncoder({ label: `${label}.inv_freq` });
    enc.copyBufferToBuffer(r.invFreq, 0, fbuf, 32, (r.rotaryDim / 2) * 4);
    ctx.device.queue.submit([enc.finish()]);
  }
  buffers[12] = fbuf;
  return { buffers, owned: [fbuf] };
}

/**
 * y (+)= x @ w^T (+ bias). Prepares, per part of `w`, a GEMV launch (runs when step.tokens == 1
 * or with lastRowOnly) and a GEMM launch (runs when step.tokens > 1); the other returns grid [0,0,0].
 */
export function matmul(ctx: GpuContext, a: MatmulArgs, label = 'matmul'): Dispatch[] {
  checkArgs(a);
  check(!a.gemmOnly || (!a.lastRowOnly && !a.fusion && a.maxTokens > 1), `${label}: gemmOnly prepares the prefill GEMM: no lastRowOnly, no fusion, maxTokens above 1.`);
  const { format, cols: k, rows: n } = a.w;
  const variant = a.variant ?? (isCpuAdapter(ctx) ? 'register' : 'tiled');
  const flags = (a.bias ? FLAG_BIAS : 0) | (a.accumulate ? FLAG_ACCUMULATE : 0);
  const maxTokens = a.maxTokens;
  const bias = a.bias ?? dummyBias(ctx);
  const out: Dispatch[] = [];

  const fusion = a.fusion ?? {};
  const fused = fusionBuffers(ctx, a, label);

  const launch = (part: WeightPart, params: GPUBuffer, family: Family, entry: string, constants: Record<string, number>, tag: string, grid: (s: StepParams) => Grid): Dispatch => {
    const code = shaderCode(format, k, family, ctx.features.subgroups, fusion);
    const gelu = (fusion.gated ?? fusion.gatedOut)?.activation === 'gelu_tanh';
    const fusedConstants = { ...(gelu ? { GATED_GELU: 1 } : {}), ...(fusion.ropeKv?.style === 'half' ? { ROPE_HALF: 1 } : {}) };
    const pipeline = ctx.pipelines.get(code, entry, `matmul.${entry}`, { ...constants, ...fusedConstants });
    // the integer-dot GEMV reads the packed row instead of x
    const buffers: Record<number, GPUBuffer> = { 0: a.step, 1: params, ...(family === 'i8' ? packed : { 2: a.x }), 3: part.data, 5: a.y, ...fused.buffers };
    // the rope/KV and gated epilogues store without store_y: no bias binding
    if (!fusion.ropeKv && !fusion.gatedOut) buffers[6] = bias;
    if (part.scales) buffers[4] = part.scales;
    const l = a.w.parts.length > 1 ? `${label}.${tag}[${part.rowStart}]` : `${label}.${tag}`;
    return { label: l, pipeline, bindGroup: bindBuffers(ctx, pipeline, l, buffers), grid, owned: part === a.w.parts[0] ? [params, ...fused.owned] : [params] };
  };

  // a decode-only launch never needs the GEMM, whose pipeline is slow to build on CPU drivers;
  // fused launches are GEMVs alone (prefill records the unfused steps)
  const gemmPossible = !a.lastRowOnly && maxTokens > 1 && !a.fusion;
  const intDot = !a.gemmOnly && usesIntDot(ctx, a);
  const packed: Record<number, GPUBuffer> = {};
  if (intDot) {
    // the GEMV's input row packed once, read by every part
    const bytes = packedActBytes(k);
    packed[20] = createStorage(ctx, bytes.xq, `${label}.xq`);
    packed[21] = createStorage(ctx, bytes.xd, `${label}.xd`);
    const pack = packAct(ctx, { step: a.step, x: a.x, xq: packed[20], xd: packed[21], cols: k, maxTokens }, `${label}.pack`);
    const grid = pack.grid as (s: StepParams) => Grid;
    out.push({ ...pack, owned: [...(pack.owned ?? []), packed[20], packed[21]], grid: (s) => (tokensOf(s, maxTokens, label) >= 1 && (a.lastRowOnly === true || s.tokens === 1) ? grid(s) : NONE) });
  }
  for (const part of a.w.parts) {
    const params = new Uint32Array([k, part.rows, part.rowStart, a.w.strideWords / FORMATS[format].wgslWords, Math.floor(k / 32), flags, ...sectionFields(n, a.sections), 0, 0]);
    const pbuf = uploadUniform(ctx, params, `${label}.params`);
    const rows = part.rows;
    const useGemv = (s: StepParams): boolean => tokensOf(s, maxTokens, label) >= 1 && (a.lastRowOnly === true || s.tokens === 1);
    const useGemm = (s: StepParams): boolean => !a.lastRowOnly && tokensOf(s, maxTokens, label) > 1;

    check(Math.ceil(rows / Math.min(TILE, REG_N * REG_WG, GEMM_REG_ROWS * GEMM_REG_WG)) <= ctx.limits.maxComputeWorkgroupsPerDimension, `${label}: ${rows} rows in one part are too many for one launch.`, 'Upload the weight with a smaller maxPartBytes.');
    if (variant === 'tiled') {
      if (!a.gemmOnly) out.push(launch(part, pbuf, intDot ? 'i8' : 'gemv', intDot ? 'gemv_i8' : 'gemv', { GEMV_WG }, 'gemv', (s) => (useGemv(s) ? grid1d(ctx, Math.ceil(rows / GEMV_ROWS)) : NONE)));
      if (gemmPossible) {
        out.push(launch(part, pbuf, 'tiled', 'gemm_tiled', {}, 'gemm', (s) => (useGemm(s) ? [Math.ceil(rows / TILE), Math.ceil(s.tokens / TILE), 1] : NONE)));
      }
    } else {
      const wgx = Math.ceil(rows / (REG_N * REG_WG));
      // rows a thread of the register GEMV owns (the int8 one's four)
      const regRows = a.registerRows ?? 16;
      const gemvWgx = intDot ? wgx : Math.ceil(rows / (regRows * GEMV_REG_WG));
      const gemvConstants: Record<string, number> = intDot ? { REG_WG } : { GEMV_REG_WG, GEMV_REG_ROWS: regRows };
      if (!a.gemmOnly) out.push(launch(part, pbuf, intDot ? 'i8' : 'register', intDot ? 'gemv_i8_register' : 'gemv_register', gemvConstants, 'gemv', (s) => (useGemv(s) ? [gemvWgx, 1, 1] : NONE)));
      if (gemmPossible) {
        const gemmWgx = Math.ceil(rows / (GEMM_REG_ROWS * GEMM_REG_WG));
        out.push(launch(part, pbuf, 'register', 'gemm_register', { GEMM_REG_WG, GEMM_REG_ROWS }, 'gemm', (s) => (useGemm(s) ? [gemmWgx, Math.ceil(s.tokens / REG_M), 1] : NONE)));
      }
    }
  }
  return out;
}
