/**
 * The steps a recipe (models/llama.ts, models/gemma3.ts) is written in. Each step records the
 * kernel launches of one line of a forward pass into the list the engine replays every submit;
 * the GPU plumbing (which buffer, which section, which activation quantization, fused or apart
 * projections) lives here so that a recipe reads like llama2.c's forward().
 *
 * Data flow between steps goes through the Activations: norm() reads the residual stream x and
 * writes xn; the projections read xn; attention writes att; the output projection writes o; the
 * MLP writes mlp; postNorm() writes post. A step returns the buffer it wrote, for the next one.
 */
import type { GpuContext } from '../gpu/device.js';
import { createStorage, type BufferRange } from '../gpu/buffers.js';
import type { Dispatch } from '../gpu/dispatch.js';
import type { GpuWeight } from '../gpu/weights.js';
import type { ModelConfig } from '../formats/config.js';
import type { ActQuant } from '../quant/formats.js';
import { embed } from '../kernels/embed.js';
import { rmsNorm } from '../kernels/rmsnorm.js';
import { matmul } from '../kernels/matmul.js';
import { rope } from '../kernels/rope.js';
import { kvAppend } from '../kernels/kv_append.js';
import { attention, attentionScratchBytes } from '../kernels/attention.js';
import { siluMul, type GatedActivation } from '../kernels/silu_mul.js';
import { quantizeAct } from '../kernels/quantize_act.js';
import { qkvSections, type Activations, type KvCache } from './state.js';
import type { Projection } from './weights.js';

export interface StepsOptions {
  /** The StepUniform buffer every launch reads (tokens, position, KV length). */
  step: GPUBuffer;
  /** 'q8': quantize each quantized matrix's input as llama.cpp does (GpuWeight.actQuant). */
  quantizeInputs: boolean;
  /** q8_0 blocks only: round q toward zero, as ggml's wasm SIMD build does. */
  truncateActivations?: boolean;
}

export class Steps {
  readonly dispatches: Dispatch[] = [];
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

  constructor(
    private ctx: GpuContext,
    private c: ModelConfig,
    private a: Activations,
    private kv: KvCache,
    private o: StepsOptions,
  ) {
    this.T = a.maxTokens;
    this.sections = qkvSections(this.T, c.numHeads * c.headDim, c.numKvHeads * c.headDim).sections;
    const shape = { nHeads: c.numHeads, nKvHeads: c.numKvHeads, headDim: c.headDim, maxCtx: kv.contextLength };
    this.attnScratch = createStorage(ctx, attentionScratchBytes(ctx, shape), 'attention.scratch');
  }

  private push(d: Dispatch | Dispatch[]): void {
    if (Array.isArray(d)) this.dispatches.push(...d);
    else this.dispatches.push(d);
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

  /** x += add (when given); xn = rmsnorm(x) * weight. */
  norm(weight: GPUBuffer, add: GPUBuffer | null, name: string): GPUBuffer {
    this.push(rmsNorm(this.ctx, { step: this.o.step, x: this.a.x, weight, out: this.a.xn, cols: this.c.hiddenSize, eps: this.c.rmsNormEps, residual: add ?? undefined }, `${this.label}${name}`));
    this.wrote(this.a.x);
    return this.wrote(this.a.xn);
  }

  /** post = rmsnorm(y) * weight: a block's output normed before it joins the residual stream. */
  postNorm(weight: GPUBuffer, y: GPUBuffer, name: string): GPUBuffer {
    const post = this.a.post!;
    this.push(rmsNorm(this.ctx, { step: this.o.step, x: y, weight, out: post, cols: this.c.hiddenSize, eps: this.c.rmsNormEps }, `${this.label}${name}`));
    return this.wrote(post);
  }

  /** q, k, v = xn @ W (+ bias), each into its section of qkv. */
  qkv(P: Projection): void {
    this.project(P, this.a.xn, this.c.hiddenSize, this.a.qkv, this.sections, 'qkv');
    const range = (i: number): BufferRange => ({ buffer: this.a.qkv, offset: this.sections[i]!.offset * 4, size: this.T * this.sections[i]!.width * 4 });
    this.q = range(0);
    this.k = range(1);
  }

  /** q, k = per-head rmsnorm(q) * qNorm, rmsnorm(k) * kNorm. */
  qkNorm(qNorm: GPUBuffer, kNorm: GPUBuffer): void {
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
  ropeQ(invFreq: GPUBuffer): void {
    this.push(rope(this.ctx, { step: this.o.step, x: this.q, nHeads: this.c.numHeads, headDim: this.c.headDim, maxTokens: this.T, ...this.ropeArgs(invFreq) }, `${this.label}rope_q`));
  }

  /** Rotate k by its positions and append k and v to layer l's cache. */
  appendKv(l: number, invFreq: GPUBuffer): void {
    const v: BufferRange = { buffer: this.a.qkv, offset: this.sections[2]!.offset * 4, size: this.T * this.sections[2]!.width * 4 };
    const { numKvHeads, headDim } = this.c;
    this.push(kvAppend(this.ctx, { step: this.o.step, k: this.k, v, kCache: this.kv.k[l]!, vCache: this.kv.v[l]!, nKvHeads: numKvHeads, headDim, maxCtx: this.kv.contextLength, maxTokens: this.T, rope: this.ropeArgs(invFreq) }, `${this.label}kv_append`));
  }

  /** att = softmax(q k^T * scale, causal, within `window` when set) v, over layer l's cache. */
  attend(l: number, opts: { window: number; scale: number }): GPUBuffer {
    const { numHeads, numKvHeads, headDim } = this.c;
    this.push(
      attention(
        this.ctx,
        { step: this.o.step, q: this.q, kCache: this.kv.k[l]!, vCache: this.kv.v[l]!, out: this.a.att, nHeads: numHeads, nKvHeads: numKvHeads, headDim, maxCtx: this.kv.contextLength, maxTokens: this.T, scratch: this.attnScratch, scale: opts.scale, window: opts.window || undefined },
        `${this.label}attention`,
      ),
    );
    return this.wrote(this.a.att);
  }

  /** o = att @ Wo. */
  attnOutput(w: GpuWeight): GPUBuffer {
    const cols = this.c.numHeads * this.c.headDim;
    this.push(matmul(this.ctx, { step: this.o.step, x: this.input(this.a.att, cols, w), w, y: this.a.o, maxTokens: this.T }, `${this.label}o`));
    return this.wrote(this.a.o);
  }

  /** mlp = (act(xn @ Wgate) * (xn @ Wup)) @ Wdown. */
  gatedMlp(gateUp: Projection, down: GpuWeight, activation: GatedActivation): GPUBuffer {
    const I = this.c.intermediateSize;
    const fused = gateUp.parts.length === 1;
    // fused: each row of `gate` is gate then up; apart: gate and up in their own buffers
    const outs = fused ? [this.a.gate] : [this.a.gate, this.a.up!];
    gateUp.parts.forEach((part, i) => {
      const x = this.input(this.a.xn, this.c.hiddenSize, part.weight);
      this.push(matmul(this.ctx, { step: this.o.step, x, w: part.weight, y: outs[i]!, bias: part.bias ?? undefined, maxTokens: this.T }, `${this.label}${fused ? 'gate_up' : i === 0 ? 'gate' : 'up'}`));
    });
    this.push(siluMul(this.ctx, { step: this.o.step, gate: this.a.gate, up: fused ? this.a.gate : this.a.up!, out: this.a.act, n: I, maxTokens: this.T, fused, activation }, `${this.label}${activation}_mul`));
    this.wrote(this.a.act);
    this.push(matmul(this.ctx, { step: this.o.step, x: this.input(this.a.act, I, down), w: down, y: this.a.mlp, maxTokens: this.T }, `${this.label}down`));
    return this.wrote(this.a.mlp);
  }

  /** logits = xn[last] @ Wlm (every row is left in xn for logitsOfEveryRow). */
  logits(lmHead: GpuWeight): void {
    this.layer = -1;
    this.lmHeadInput = this.input(this.a.xn, this.c.hiddenSize, lmHead);
    this.push(matmul(this.ctx, { step: this.o.step, x: this.lmHeadInput, w: lmHead, y: this.a.logits, maxTokens: this.T, lastRowOnly: true }, 'lm_head'));
  }

  /** A projection's parts, each writing its outputs' sections of y. */
  private project(P: Projection, x: GPUBuffer, cols: number, y: GPUBuffer, sections: { width: number; offset: number }[], name: string): void {
    for (const part of P.parts) {
      const label = P.parts.length === 1 ? name : name[part.outputs[0]!] ?? name;
      this.push(matmul(this.ctx, { step: this.o.step, x: this.input(x, cols, part.weight), w: part.weight, y, bias: part.bias ?? undefined, maxTokens: this.T, sections: part.outputs.map((i) => sections[i]!) }, `${this.label}${label}`));
    }
    this.wrote(y);
  }
}
