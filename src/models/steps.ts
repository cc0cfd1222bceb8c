/**
 * The steps a recipe (models/llama.ts, models/gemma3.ts) is written in. Each step records the
 * kernel launches of one line of a forward pass into the list the engine replays every submit;
 * the GPU plumbing (which buffer, which section, which activation quantization, fused or apart
 * projections) lives here so that a recipe reads like llama2.c's forward().
 *
 * Data flow between steps goes through the Activations: norm() reads the residual stream x and
 * writes xn; the projections read xn; attention writes att; the output projection and the MLP add
 * their outputs into x (through o and mlp, normed first, where the block has a post-norm).
 *
 * Decode (one token) is fused down to a few launches per layer: the norm is the next matmul's
 * prologue (the GEMV reads x and computes the row's scale itself), RoPE and the KV append are the
 * Q|K|V GEMV's epilogue (no bias, no q/k norm), act(gate) * up is the gate|up GEMV's epilogue (the
 * down GEMV's prologue when gate and up are apart) and the residual adds are the output and down
 * projections' epilogues. Those two also feed the next norm (normOut): they write x * g and the
 * row's partial sums of squares, so the normed GEMV after them sums K / 4 partials once instead of
 * squaring and weighting the row in every thread (layer 0's Q|K|V, after the embedding, and norms
 * after a post-norm add still do that). With q/k norms (Qwen3, Gemma 3) the norms and RoPE of q
 * and k are one launch (kernels/qk_norm_rope.ts) and the KV append copies the rotated k; a q8 KV
 * cache is written by the KV append too (its block scales need whole blocks). Prefill keeps the norm,
 * RoPE/append and gated product as launches of their own (their cost is shared by the chunk's
 * tokens); those launches idle at decode steps, and the fused GEMVs idle at prefill steps.
 */
import type { GpuContext } from '../gpu/device.js';
import { createStorage, type BufferRange } from '../gpu/buffers.js';
import { HearthError } from '../errors.js';
import type { Dispatch, Grid } from '../gpu/dispatch.js';
import type { GpuWeight } from '../gpu/weights.js';
import type { ModelConfig } from '../formats/config.js';
import type { ActQuant } from '../quant/formats.js';
import { embed } from '../kernels/embed.js';
import { rmsNorm } from '../kernels/rmsnorm.js';
import { matmul, normPartialsBytes, type MatmulArgs, type MatmulFusion } from '../kernels/matmul.js';
import { rope } from '../kernels/rope.js';
import { qkNormRope } from '../kernels/qk_norm_rope.js';
import { kvAppend } from '../kernels/kv_append.js';
import { attention, attentionScratchBytes } from '../kernels/attention.js';
import { siluMul, type GatedActivation } from '../kernels/silu_mul.js';
import { quantizeAct } from '../kernels/quantize_act.js';
import { createPagedScratch, pagedAppend, pagedAttention, type PagedShape } from '../kernels/paged.js';
import { qkvSections, type Activations, type KvCache } from './state.js';
import type { Projection } from './weights.js';
import type { KvPool } from './kv-pool.js';

export interface StepsOptions {
  /** The StepUniform buffer every launch reads (tokens, position, KV length). */
  step: GPUBuffer;
  /** 'q8': quantize each quantized matrix's input as llama.cpp does (GpuWeight.actQuant). */
  quantizeInputs: boolean;
  /** q8_0 blocks only: round q toward zero, as ggml's wasm SIMD build does. */
  truncateActivations?: boolean;
  /** Fuse decode steps into the GEMVs (default true; never with quantizeInputs or intDot). */
  fuse?: boolean;
  /** Integer dot products in the quantized matrices' GEMVs (MatmulArgs.intDot). */
  intDot?: boolean;
  /**
   * Batched decoding (models/batch.ts): each row is its own sequence's next token, at the position
   * and with the blocks of the pool its block table gives; RoPE, the KV append and attention go
   * through the paged kernels, and the LM head covers every row. Needs fuse off and no KvCache.
   */
  paged?: { pool: KvPool; table: GPUBuffer; shape: PagedShape };
}

const IDLE: Grid = [0, 0, 0];

/** What a launch writing the residual row hands the next norm's decode GEMV (MatmulFusion.normOut). */
type NormFeed = { weight: GPUBuffer; xg: GPUBuffer; partials: GPUBuffer };

/** The launch, idle at prefill steps (more than one token). */
function decodeOnly(d: Dispatch): Dispatch {
  const grid = d.grid;
  return { ...d, grid: (s) => (s.tokens === 1 ? (typeof grid === 'function' ? grid(s) : grid) : IDLE) };
}

/** The launch, idle at decode steps (one token): its work is fused into a GEMV there. */
function prefillOnly(d: Dispatch): Dispatch {
  const grid = d.grid;
  return { ...d, grid: (s) => (s.tokens > 1 ? (typeof grid === 'function' ? grid(s) : grid) : IDLE) };
}

export class Steps {
  private readonly recorded: Dispatch[] = [];
  /** What the LM head read: xn after the final norm, or its quantized copy. */
  lmHeadInput: GPUBuffer | null = null;
  /** Decode attention's split-K partials, shared by every layer (they run one after another). */
  readonly attnScratch: GPUBuffer;
  private readonly T: number;
  private readonly sections: { width: number; offset: number }[];
  /** q and k as the attention reads them: sections of qkv, or their normed copies. */
  private q!: BufferRange;
  private k!: BufferRange;
  private layer = -1;
  /** Inputs already quantized since their buffer was last written: buffer -> kind -> copy. */
  private quantized = new Map<GPUBuffer, Map<ActQuant, GPUBuffer>>();
  /** Decode steps are fused into the GEMVs. */
  readonly fuse: boolean;
  /** The norm whose output xn the next projection reads: its decode GEMV applies it as a prologue. */
  private pendingNorm: { weight: GPUBuffer; eps: number; partials?: GPUBuffer } | null = null;
  /**
   * A residual GEMV (x += y @ W) not recorded yet: the next norm, if it comes first, makes it write
   * that norm's x * g and partial sums (MatmulFusion.normOut); anything else records it as it is.
   */
  private deferred: ((feed: NormFeed | null) => void) | null = null;
  /** x * g and the partial sums of squares a normOut epilogue writes (decode, one row), made on first use. */
  private normFeed: { xg: GPUBuffer; partials: GPUBuffer } | null = null;
  /** The final norm, for the LM head over every row (logitsOfEveryRow). */
  finalNorm: GPUBuffer | null = null;

  constructor(
    private ctx: GpuContext,
    private c: ModelConfig,
    private a: Activations,
    private kvCache: KvCache | null,
    private o: StepsOptions,
  ) {
    this.T = a.maxTokens;
    this.sections = qkvSections(this.T, c.numHeads * c.headDim, c.numKvHeads * c.headDim).sections;
    if (o.paged) {
      this.attnScratch = createPagedScratch(ctx, o.paged.shape);
    } else {
      if (!kvCache) throw new HearthError('INVALID_ARGUMENT', 'Steps: a forward pass needs a KV cache or a paged pool.', { hint: 'Give Steps a KvCache, or StepsOptions.paged.' });
      const shape = { nHeads: c.numHeads, nKvHeads: c.numKvHeads, headDim: c.headDim, maxCtx: kvCache.contextLength };
      this.attnScratch = createStorage(ctx, attentionScratchBytes(ctx, shape), 'attention.scratch');
    }
    // (a packed int8 row is quantized before the GEMV: no norm or gated prologue can precede it)
    this.fuse = (o.fuse ?? true) && !o.quantizeInputs && !o.intDot && !o.paged;
  }

  /** Every launch of the forward pass, in order. */
  get dispatches(): Dispatch[] {
    this.flush(null);
    return this.recorded;
  }

  /** A residual GEMV's launches: deferred when fusing, so that the next norm can feed on it. */
  private residualMatmul(a: MatmulArgs, label: string, fusion: MatmulFusion | null = null, decodeX: GPUBuffer = a.x): void {
    this.flush(null);
    if (this.fuse && a.accumulate && !a.bias && !a.sections) this.deferred = (feed) => this.matmulSteps(a, label, feed ? { ...fusion, normOut: feed } : fusion, decodeX);
    else this.matmulSteps(a, label, fusion, decodeX);
  }

  /** Records the deferred launch, feeding the norm with weight `g` when given; whether it does. */
  private flush(g: GPUBuffer | null): boolean {
    const record = this.deferred;
    if (!record) return false;
    this.deferred = null;
    if (!g) {
      record(null);
      return false;
    }
    const from = this.recorded.length;
    const cols = this.c.hiddenSize;
    // xg holds one row but is sized as x (the GEMVs reading it are prepared for maxTokens rows)
    const feed = this.normFeed ?? { xg: createStorage(this.ctx, this.T * cols * 4, 'norm.xg'), partials: createStorage(this.ctx, normPartialsBytes(cols), 'norm.partials') };
    record({ weight: g, ...feed });
    if (!this.normFeed) {
      // destroyed with the first launch that writes them
      const first = this.recorded[from]!;
      this.recorded[from] = { ...first, owned: [...(first.owned ?? []), feed.xg, feed.partials] };
      this.normFeed = feed;
    }
    return true;
  }

  /** The contiguous KV cache (every forward pass but a paged one has it). */
  private get kv(): KvCache {
    return this.kvCache!;
  }

  /** A matmul's launches, with the integer dot products when asked for. */
  private mm(a: MatmulArgs, label: string): Dispatch[] {
    return matmul(this.ctx, { ...a, intDot: this.o.intDot }, label);
  }

  /** A launch fused away at decode steps when fusing, else always run. */
  private unfusedInDecode(d: Dispatch): Dispatch {
    return this.fuse ? prefillOnly(d) : d;
  }

  /**
   * y = x @ w: unfused, the matmul as it is (GEMV and GEMM); fused, the GEMM for prefill reading
   * `x` and the GEMV for decode with `fusion` (reading `decodeX`).
   */
  private matmulSteps(a: MatmulArgs, label: string, fusion: MatmulFusion | null, decodeX: GPUBuffer = a.x): void {
    if (!this.fuse || !fusion) {
      this.push(this.mm(a, label));
      return;
    }
    if (this.T > 1) this.push(this.mm({ ...a, gemmOnly: true }, label));
    this.push(this.mm({ ...a, x: decodeX, fusion }, label));
  }

  /**
   * The decode prologue of a projection reading xn, the pending norm consumed, and the row its
   * decode GEMV reads: x, or x * g where the residual GEMV before fed the norm.
   */
  private takeNorm(): { fusion: MatmulFusion | null; x: GPUBuffer } {
    const n = this.pendingNorm;
    this.pendingNorm = null;
    return { fusion: n ? { norm: n } : null, x: n?.partials ? this.normFeed!.xg : this.a.x };
  }

  private push(d: Dispatch | Dispatch[]): void {
    this.flush(null);
    if (Array.isArray(d)) this.recorded.push(...d);
    else this.recorded.push(d);
  }

  private get label(): string {
    return this.layer < 0 ? '' : `L${this.layer}.`;
  }

  /** A write to `buf`: its quantized copies are stale. */
  private wrote(buf: GPUBuffer): GPUBuffer {
    this.quantized.delete(buf);
    return buf;
  }

  /** The input a matmul with weights `w` reads from `x` ([tokens, cols]): x, or x quantized as w asks (once per kind). */
  private input(x: GPUBuffer, cols: number, w: GpuWeight): GPUBuffer {
    const out = w.actQuant && this.o.quantizeInputs ? this.a.quantized.get(w.actQuant) : undefined;
    if (!w.actQuant || !out) return x;
    let done = this.quantized.get(x);
    if (!done) this.quantized.set(x, (done = new Map()));
    if (!done.has(w.actQuant)) {
      // one buffer per kind: whatever it held for another input is stale now
      for (const [buf, kinds] of this.quantized) if (buf !== x) kinds.delete(w.actQuant);
      this.push(quantizeAct(this.ctx, { step: this.o.step, x, out, cols, maxTokens: this.T, kind: w.actQuant, trunc: this.o.truncateActivations }, `${this.label}x.${w.actQuant}`));
      done.set(w.actQuant, out);
    }
    return out;
  }

  /** x = embedding rows of the tokens (times `scale`). */
  embed(table: GpuWeight, scale = 1): GPUBuffer {
    this.push(embed(this.ctx, { step: this.o.step, ids: this.a.ids, table, out: this.a.x, maxTokens: this.T, scale: scale === 1 ? undefined : scale }, 'embed'));
    return this.wrote(this.a.x);
  }

  /** Starts layer `l` (labels its launches). */
  beginLayer(l: number): void {
    this.layer = l;
  }

  /** xn = rmsnorm(x) * weight (at decode steps, the next projection's prologue). */
  norm(weight: GPUBuffer, name: string): GPUBuffer {
    const fed = this.flush(weight);
    this.push(this.unfusedInDecode(rmsNorm(this.ctx, { step: this.o.step, x: this.a.x, weight, out: this.a.xn, cols: this.c.hiddenSize, eps: this.c.rmsNormEps }, `${this.label}${name}`)));
    this.pendingNorm = { weight, eps: this.c.rmsNormEps, ...(fed ? { partials: this.normFeed!.partials } : {}) };
    return this.wrote(this.a.xn);
  }

  /** x += y, or x += rmsnorm(y) * postNorm: a block's output joins the residual stream. */
  private residual(y: GPUBuffer, postNorm: GPUBuffer | null, name: string): void {
    if (postNorm) {
      const add = (feed: NormFeed | null) => this.push(rmsNorm(this.ctx, { step: this.o.step, x: this.a.x, weight: postNorm, residual: y, mode: 'post-add', cols: this.c.hiddenSize, eps: this.c.rmsNormEps, feed: feed ?? undefined }, `${this.label}${name}`));
      this.flush(null);
      // fusing, the next norm may feed on it
      if (this.fuse) this.deferred = add;
      else add(null);
    }
    this.wrote(this.a.x);
  }

  /**
   * q, k, v = xn @ W (+ bias), each into its section of qkv; then, with q/k norms, per-head
   * rmsnorm(q) * qNorm, rmsnorm(k) * kNorm; q and k rotated by their positions; k and v appended
   * to layer l's cache.
   */
  qkv(l: number, P: Projection, rope: { invFreq: GPUBuffer; qNorm: GPUBuffer | null; kNorm: GPUBuffer | null }): void {
    const range = (i: number): BufferRange => ({ buffer: this.a.qkv, offset: this.sections[i]!.offset * 4, size: this.T * this.sections[i]!.width * 4 });
    this.q = range(0);
    this.k = range(1);
    const { headDim, rotaryDim, ropeStyle } = this.c;
    const part = P.parts[0]!;
    // the Q|K|V GEMV's epilogue rotates q and k and writes the caches (one matrix, no bias, no q/k norm)
    // (a q8 cache's scale needs a whole block of a head: the KV append launch writes it)
    const epilogue = this.fuse && P.parts.length === 1 && part.weight.parts.length === 1 && !part.bias && !rope.qNorm && this.kv.format !== 'q8' && headDim % 4 === 0 && (ropeStyle === 'interleaved' || rotaryDim % 4 === 0);
    const norm = this.takeNorm();
    if (epilogue) {
      const ropeKv = { invFreq: rope.invFreq, rotaryDim, style: ropeStyle, headDim, kCache: this.kv.k[l]!, vCache: this.kv.v[l]!, kvFormat: this.kv.format, maxCtx: this.kv.contextLength };
      this.matmulSteps({ step: this.o.step, x: this.a.xn, w: part.weight, y: this.a.qkv, maxTokens: this.T, sections: this.sections }, `${this.label}qkv`, { ...norm.fusion, ropeKv }, norm.x);
      this.wrote(this.a.qkv);
      this.unfused(() => {
        this.ropeQ(rope.invFreq);
        this.appendKv(l, rope.invFreq);
      });
      return;
    }
    this.project(P, this.a.xn, this.c.hiddenSize, this.a.qkv, this.sections, 'qkv', norm.fusion, norm.x);
    if (rope.qNorm && rope.kNorm && !this.o.paged) {
      // q and k normed and rotated in one launch; the append copies the rotated k
      this.qkNormRope(rope.qNorm, rope.kNorm, rope.invFreq);
      this.appendKv(l, null);
      return;
    }
    if (rope.qNorm && rope.kNorm) this.qkNorm(rope.qNorm, rope.kNorm);
    if (this.o.paged) {
      const { pool, table, shape } = this.o.paged;
      const v: BufferRange = { buffer: this.a.qkv, offset: this.sections[2]!.offset * 4, size: this.T * this.sections[2]!.width * 4 };
      this.push(pagedAppend(this.ctx, { ...shape, step: this.o.step, q: this.q, k: this.k, v, kPool: pool.k[l]!, vPool: pool.v[l]!, table, rope: this.ropeArgs(rope.invFreq) }, `${this.label}paged_append`));
      return;
    }
    this.ropeQ(rope.invFreq);
    this.appendKv(l, rope.invFreq);
  }

  /** Launches recorded by `record` idle at decode steps (fused there). */
  private unfused(record: () => void): void {
    this.flush(null);
    const from = this.recorded.length;
    record();
    for (let i = from; i < this.recorded.length; i++) this.recorded[i] = prefillOnly(this.recorded[i]!);
  }

  /** q, k = rope(per-head rmsnorm(q) * qNorm), rope(rmsnorm(k) * kNorm), in one launch. */
  private qkNormRope(qNorm: GPUBuffer, kNorm: GPUBuffer, invFreq: GPUBuffer): void {
    const { numHeads, numKvHeads, headDim, rmsNormEps: eps } = this.c;
    this.push(qkNormRope(this.ctx, { step: this.o.step, q: this.q, k: this.k, qNorm, kNorm, qOut: this.a.qn!, kOut: this.a.kn!, nHeads: numHeads, nKvHeads: numKvHeads, headDim, eps, maxTokens: this.T, rope: this.ropeArgs(invFreq) }, `${this.label}qk_norm_rope`));
    this.q = this.a.qn!;
    this.k = this.a.kn!;
  }

  /** q, k = per-head rmsnorm(q) * qNorm, rmsnorm(k) * kNorm (batched decoding, whose append rotates them by each row's position). */
  private qkNorm(qNorm: GPUBuffer, kNorm: GPUBuffer): void {
    const { numHeads, numKvHeads, headDim, rmsNormEps: eps } = this.c;
    this.push(rmsNorm(this.ctx, { step: this.o.step, x: this.q, weight: qNorm, out: this.a.qn!, cols: headDim, rowsPerToken: numHeads, eps }, `${this.label}q_norm`));
    this.push(rmsNorm(this.ctx, { step: this.o.step, x: this.k, weight: kNorm, out: this.a.kn!, cols: headDim, rowsPerToken: numKvHeads, eps }, `${this.label}k_norm`));
    this.q = this.a.qn!;
    this.k = this.a.kn!;
  }

  private ropeArgs(invFreq: GPUBuffer) {
    return { invFreq, rotaryDim: this.c.rotaryDim, style: this.c.ropeStyle };
  }

  /** Rotate q by its positions. */
  private ropeQ(invFreq: GPUBuffer): void {
    this.push(rope(this.ctx, { step: this.o.step, x: this.q, nHeads: this.c.numHeads, headDim: this.c.headDim, maxTokens: this.T, ...this.ropeArgs(invFreq) }, `${this.label}rope_q`));
  }

  /** Rotate k by its positions (unless `invFreq` is null: k is rotated already) and append k and v to layer l's cache. */
  private appendKv(l: number, invFreq: GPUBuffer | null): void {
    const v: BufferRange = { buffer: this.a.qkv, offset: this.sections[2]!.offset * 4, size: this.T * this.sections[2]!.width * 4 };
    const { numKvHeads, headDim } = this.c;
    this.push(kvAppend(this.ctx, { step: this.o.step, k: this.k, v, kCache: this.kv.k[l]!, vCache: this.kv.v[l]!, kvFormat: this.kv.format, nKvHeads: numKvHeads, headDim, maxCtx: this.kv.contextLength, maxTokens: this.T, rope: invFreq ? this.ropeArgs(invFreq) : undefined }, `${this.label}kv_append`));
  }

  /** att = softmax(q k^T * scale, causal, within `window` when set) v, over layer l's cache. */
  attend(l: number, opts: { window: number; scale: number }): GPUBuffer {
    const { numHeads, numKvHeads, headDim } = this.c;
    if (this.o.paged) {
      const { pool, table, shape } = this.o.paged;
      this.push(pagedAttention(this.ctx, { ...shape, step: this.o.step, q: this.q, kPool: pool.k[l]!, vPool: pool.v[l]!, table, out: this.a.att, scratch: this.attnScratch, scale: opts.scale, window: opts.window }, `${this.label}paged_attention`));
      return this.wrote(this.a.att);
    }
    this.push(
      attention(
        this.ctx,
        { step: this.o.step, q: this.q, kCache: this.kv.k[l]!, vCache: this.kv.v[l]!, kvFormat: this.kv.format, out: this.a.att, nHeads: numHeads, nKvHeads: numKvHeads, headDim, maxCtx: this.kv.contextLength, maxTokens: this.T, scratch: this.attnScratch, scale: opts.scale, window: opts.window || undefined },
        `${this.label}attention`,
      ),
    );
    return this.wrote(this.a.att);
  }

  /** x += att @ Wo, or x += rmsnorm(att @ Wo) * postNorm (the add is the GEMV's epilogue without a post-norm). */
  attnOutput(w: GpuWeight, postNorm: GPUBuffer | null = null): void {
    const cols = this.c.numHeads * this.c.headDim;
    const y = postNorm ? this.a.o : this.a.x;
    this.residualMatmul({ step: this.o.step, x: this.input(this.a.att, cols, w), w, y, accumulate: !postNorm, maxTokens: this.T }, `${this.label}o`);
    this.wrote(y);
    this.residual(y, postNorm, 'post_attn_norm');
  }

  /**
   * x += (act(xn @ Wgate) * (xn @ Wup)) @ Wdown, or x += rmsnorm(that) * postNorm. At decode steps
   * act(gate) * up is the gate|up GEMV's epilogue (gate and up one matrix), or the down GEMV's
   * prologue (apart).
   */
  gatedMlp(gateUp: Projection, down: GpuWeight, activation: GatedActivation, postNorm: GPUBuffer | null = null): void {
    const I = this.c.intermediateSize;
    const fused = gateUp.parts.length === 1;
    // fused: each row of `gate` is gate then up; apart: gate and up in their own buffers
    const outs = fused ? [this.a.gate] : [this.a.gate, this.a.up!];
    const norm = this.takeNorm();
    const y = postNorm ? this.a.mlp : this.a.x;
    const part0 = gateUp.parts[0]!;
    if (this.fuse && fused && part0.weight.parts.length === 1 && !part0.bias && I % 2 === 0) {
      // decode: act(gate) * up is the gate|up GEMV's epilogue, written straight into act
      const a: MatmulArgs = { step: this.o.step, x: this.a.xn, w: part0.weight, y: this.a.gate, maxTokens: this.T };
      if (this.T > 1) this.push(this.mm({ ...a, gemmOnly: true }, `${this.label}gate_up`));
      this.push(this.mm({ ...a, x: norm.x, y: this.a.act, fusion: { ...norm.fusion, gatedOut: { activation } } }, `${this.label}gate_up`));
      this.push(prefillOnly(siluMul(this.ctx, { step: this.o.step, gate: this.a.gate, up: this.a.gate, out: this.a.act, n: I, maxTokens: this.T, fused, activation }, `${this.label}${activation}_mul`)));
      this.wrote(this.a.act);
      this.residualMatmul({ step: this.o.step, x: this.a.act, w: down, y, accumulate: !postNorm, maxTokens: this.T }, `${this.label}down`);
    } else {
      gateUp.parts.forEach((part, i) => {
        const x = this.input(this.a.xn, this.c.hiddenSize, part.weight);
        this.matmulSteps({ step: this.o.step, x, w: part.weight, y: outs[i]!, bias: part.bias ?? undefined, maxTokens: this.T }, `${this.label}${fused ? 'gate_up' : i === 0 ? 'gate' : 'up'}`, norm.fusion, norm.x);
      });
      this.push(this.unfusedInDecode(siluMul(this.ctx, { step: this.o.step, gate: this.a.gate, up: fused ? this.a.gate : this.a.up!, out: this.a.act, n: I, maxTokens: this.T, fused, activation }, `${this.label}${activation}_mul`)));
      this.wrote(this.a.act);
      // decode, gate and up apart: act(gate) * up is the down GEMV's prologue
      const gated = fused ? { up: this.a.gate, stride: 2 * I, upOffset: I, activation } : { up: this.a.up!, stride: I, upOffset: 0, activation };
      this.residualMatmul({ step: this.o.step, x: this.input(this.a.act, I, down), w: down, y, accumulate: !postNorm, maxTokens: this.T }, `${this.label}down`, { gated }, this.a.gate);
    }
    this.wrote(y);
    this.residual(y, postNorm, 'post_ffn_norm');
  }

  /**
   * logits = (rmsnorm(x[last]) * finalNorm) @ Wlm. Fused, the norm is the LM head GEMV's prologue at
   * every step; unfused, xn keeps every row's normed state (logitsOfEveryRow reads it).
   */
  logits(finalNorm: GPUBuffer, lmHead: GpuWeight): void {
    this.layer = -1;
    this.finalNorm = finalNorm;
    // batched decoding samples every row; else the last row's logits are the next token's
    const a: MatmulArgs = { step: this.o.step, x: this.a.x, w: lmHead, y: this.a.logits, maxTokens: this.T, lastRowOnly: !this.o.paged };
    if (this.fuse) {
      const norm = { weight: finalNorm, eps: this.c.rmsNormEps };
      if (!this.flush(finalNorm)) {
        this.push(this.mm({ ...a, fusion: { norm } }, 'lm_head'));
        return;
      }
      // the last row of a prefill has no x * g or partials (the residual GEMMs write neither)
      this.push(this.mm({ ...a, fusion: { norm } }, 'lm_head').map(prefillOnly));
      this.push(this.mm({ ...a, x: this.normFeed!.xg, fusion: { norm: { ...norm, partials: this.normFeed!.partials } } }, 'lm_head').map(decodeOnly));
      return;
    }
    this.norm(finalNorm, 'final_norm');
    this.pendingNorm = null;
    this.lmHeadInput = this.input(this.a.xn, this.c.hiddenSize, lmHead);
    this.push(this.mm({ ...a, x: this.lmHeadInput }, 'lm_head'));
  }

  /**
   * Launches leaving every row of the submit's final-normed state in xn (after the forward's own),
   * and the buffer the LM head over every row reads: none when the forward left it there already.
   */
  everyRowInput(): { x: GPUBuffer; dispatches: Dispatch[] } {
    if (!this.fuse) return { x: this.lmHeadInput ?? this.a.xn, dispatches: [] };
    const d = rmsNorm(this.ctx, { step: this.o.step, x: this.a.x, weight: this.finalNorm!, out: this.a.xn, cols: this.c.hiddenSize, eps: this.c.rmsNormEps }, 'final_norm.every_row');
    return { x: this.a.xn, dispatches: [d] };
  }

  /** A projection's parts, each writing its outputs' sections of y (at decode steps with `fusion` as prologue). */
  private project(P: Projection, x: GPUBuffer, cols: number, y: GPUBuffer, sections: { width: number; offset: number }[], name: string, fusion: MatmulFusion | null = null, decodeX: GPUBuffer = this.a.x): void {
    for (const part of P.parts) {
      const label = P.parts.length === 1 ? name : name[part.outputs[0]!] ?? name;
      this.matmulSteps({ step: this.o.step, x: this.input(x, cols, part.weight), w: part.weight, y, bias: part.bias ?? undefined, maxTokens: this.T, sections: part.outputs.map((i) => sections[i]!) }, `${this.label}${label}`, fusion, decodeX);
    }
    this.wrote(y);
  }
}
