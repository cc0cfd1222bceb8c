/**
 * The Llama-family forward pass (Llama 2/3, SmolLM, TinyLlama, Mistral, Qwen2 with q/k/v bias,
 * Qwen3 with q/k norm), as one readable sequence of kernel launches:
 *
 *   x = embed(tokens)
 *   for each layer:
 *     xn = rmsnorm(x)                       (fused with the residual add of the previous MLP)
 *     q, k, v = xn @ Wq, xn @ Wk, xn @ Wv   (+ bias on Qwen2; per-head rmsnorm on Qwen3)
 *     rope(q); append rope(k), v to the KV cache
 *     att = attention(q, K cache, V cache)  (causal, grouped-query)
 *     x += att @ Wo; xn = rmsnorm(x)        (fused)
 *     x += (silu(xn @ Wgate) * (xn @ Wup)) @ Wdown
 *   logits = rmsnorm(x)[last] @ Wlm
 *
 * A matmul whose weights came from a quantized ggml type first quantizes its input rows to 8
 * bits as llama.cpp's CPU backend does (q8_0 or q8_K blocks, per GpuWeight.actQuant) when the
 * forward is built with activations: 'q8'.
 *
 * Everything (activations, KV cache, bind groups) is built once here; a decode step only writes
 * the step uniform and the token id, then records the same dispatches again.
 */
import type { GpuContext } from '../gpu/device.js';
import { createStorage, type BufferRange } from '../gpu/buffers.js';
import { destroyDispatches, type Dispatch } from '../gpu/dispatch.js';
import type { GpuWeight } from '../gpu/weights.js';
import { destroyWeight } from '../gpu/weights.js';
import { embed } from '../kernels/embed.js';
import { rmsNorm } from '../kernels/rmsnorm.js';
import { matmul } from '../kernels/matmul.js';
import { rope } from '../kernels/rope.js';
import { kvAppend } from '../kernels/kv_append.js';
import { attention, attentionScratchBytes } from '../kernels/attention.js';
import { siluMul } from '../kernels/silu_mul.js';
import { quantizeAct } from '../kernels/quantize_act.js';
import type { ActQuant } from '../quant/formats.js';
import type { ModelConfig } from '../formats/config.js';

export interface LayerWeights {
  attnNorm: GPUBuffer;
  /**
   * The Q, K and V projections concatenated by rows ([qDim + 2 kvDim, hidden]) with their biases
   * (Qwen2) likewise: one matmul computes all three. Null when their formats differ; then q, k,
   * v and their biases hold them apart (and are null otherwise).
   */
  qkv: GpuWeight | null;
  qkvBias: GPUBuffer | null;
  q: GpuWeight | null;
  k: GpuWeight | null;
  v: GpuWeight | null;
  o: GpuWeight;
  qBias: GPUBuffer | null;
  kBias: GPUBuffer | null;
  vBias: GPUBuffer | null;
  qNorm: GPUBuffer | null;
  kNorm: GPUBuffer | null;
  ffnNorm: GPUBuffer;
  /**
   * The MLP's gate and up projections concatenated by rows ([2 * intermediate, hidden]): one
   * matmul computes both. Null when the two are stored in different formats; then `gate` and
   * `up` hold them apart (and are null otherwise).
   */
  gateUp: GpuWeight | null;
  gate: GpuWeight | null;
  up: GpuWeight | null;
  down: GpuWeight;
}

/**
 * Where q, k and v live in the `qkv` activation buffer: three [maxTokens, width] blocks, each
 * starting on a 64-float (256-byte) boundary, the most any adapter asks of a binding offset.
 */
export function qkvSections(maxTokens: number, qDim: number, kvDim: number): { sections: { width: number; offset: number }[]; floats: number } {
  const align = (f: number) => Math.ceil(f / 64) * 64;
  const kAt = align(maxTokens * qDim);
  const vAt = align(kAt + maxTokens * kvDim);
  return {
    sections: [
      { width: qDim, offset: 0 },
      { width: kvDim, offset: kAt },
      { width: kvDim, offset: vAt },
    ],
    floats: vAt + maxTokens * kvDim,
  };
}

export interface ModelWeights {
  embed: GpuWeight;
  layers: LayerWeights[];
  finalNorm: GPUBuffer;
  /** The same object as `embed` when the embeddings are tied. */
  lmHead: GpuWeight;
  /** Inverse RoPE frequencies [rotaryDim / 2], scaling already applied. */
  invFreq: GPUBuffer;
}

export interface ForwardOptions {
  /** Tokens per prefill submit (the M of the prefill GEMMs). */
  maxTokens: number;
  /** KV cache length. */
  contextLength: number;
  /**
   * 'q8': quantize each quantized matrix's input activations as llama.cpp does
   * (GpuWeight.actQuant); 'f32' (default): multiply every matrix with the f32 activations as they are.
   */
  activations?: ActivationMode;
  /** q8_0 blocks only: round q toward zero, as ggml's wasm SIMD build does (default: to nearest). */
  truncateActivations?: boolean;
}

export type ActivationMode = 'q8' | 'f32';

/** Activations of one forward pass, sized for `maxTokens` rows. */
interface Activations {
  ids: GPUBuffer;
  x: GPUBuffer;
  xn: GPUBuffer;
  /** q, k and v, as the sections qkvSections says. */
  qkv: GPUBuffer;
  qn: GPUBuffer | null;
  kn: GPUBuffer | null;
  att: GPUBuffer;
  o: GPUBuffer;
  gate: GPUBuffer;
  /** Only when some layer keeps gate and up apart. */
  up: GPUBuffer | null;
  act: GPUBuffer;
  mlp: GPUBuffer;
  logits: GPUBuffer;
  /** Matmul inputs quantized as llama.cpp would ([maxTokens, widest input] each), per kind in use. */
  quantized: Map<ActQuant, GPUBuffer>;
}

export class LlamaForward {
  readonly act: Activations;
  readonly kCache: GPUBuffer[];
  readonly vCache: GPUBuffer[];
  /** Every launch of one forward pass, in order. */
  readonly dispatches: Dispatch[];
  readonly kvBytes: number;
  /** Split-K partials of decode attention, shared by every layer (layers run one after another). */
  private attnScratch: GPUBuffer;
  /** The LM head over every row of a submit (teacher forcing, prompt log-probabilities): built on first use. */
  private everyRow: { logits: GPUBuffer; dispatches: Dispatch[]; rows: number } | null = null;
  /** What the LM head reads: xn after the final norm, or its quantized copy. */
  private lmHeadInput: GPUBuffer | null = null;

  constructor(
    private ctx: GpuContext,
    readonly config: ModelConfig,
    readonly weights: ModelWeights,
    readonly options: ForwardOptions,
    private stepBuffer: GPUBuffer,
  ) {
    const c = config;
    const T = options.maxTokens;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const f32 = (n: number, label: string) => createStorage(ctx, n * 4, label);
    this.act = {
      ids: createStorage(ctx, T * 4, 'ids'),
      x: f32(T * c.hiddenSize, 'x'),
      xn: f32(T * c.hiddenSize, 'xn'),
      // q, k and v as three sections of one buffer, each starting on a 256-byte boundary so the
      // next kernels can bind it as their own (see qkvSections)
      qkv: f32(qkvSections(T, qDim, kvDim).floats, 'qkv'),
      qn: c.qkNorm ? f32(T * qDim, 'qn') : null,
      kn: c.qkNorm ? f32(T * kvDim, 'kn') : null,
      att: f32(T * qDim, 'att'),
      o: f32(T * c.hiddenSize, 'o'),
      // gate|up rows of the fused matmul; gate alone when a layer keeps them apart
      gate: f32(T * 2 * c.intermediateSize, 'gate'),
      up: weights.layers.some((L) => !L.gateUp) ? f32(T * c.intermediateSize, 'up') : null,
      act: f32(T * c.intermediateSize, 'act'),
      mlp: f32(T * c.hiddenSize, 'mlp'),
      logits: f32(c.vocabSize, 'logits'),
      quantized: new Map(),
    };
    if (options.activations === 'q8') {
      const widest = Math.max(c.hiddenSize, qDim, c.intermediateSize);
      for (const m of allMatrices(weights)) {
        if (m.actQuant && !this.act.quantized.has(m.actQuant)) this.act.quantized.set(m.actQuant, f32(T * widest, `x.${m.actQuant}`));
      }
    }
    const cacheFloats = c.numKvHeads * options.contextLength * c.headDim;
    this.kCache = [];
    this.vCache = [];
    for (let l = 0; l < c.numLayers; l++) {
      this.kCache.push(f32(cacheFloats, `k_cache.${l}`));
      this.vCache.push(f32(cacheFloats, `v_cache.${l}`));
    }
    this.kvBytes = 2 * c.numLayers * cacheFloats * 4;
    const shape = { nHeads: c.numHeads, nKvHeads: c.numKvHeads, headDim: c.headDim, maxCtx: options.contextLength };
    this.attnScratch = createStorage(ctx, attentionScratchBytes(ctx, shape), 'attention.scratch');
    this.dispatches = this.build(stepBuffer);
  }

  private build(step: GPUBuffer): Dispatch[] {
    const { ctx, config: c, weights: w, act: a } = this;
    const T = this.options.maxTokens;
    const maxCtx = this.options.contextLength;
    const eps = c.rmsNormEps;
    const ropeArgs = { invFreq: w.invFreq, rotaryDim: c.rotaryDim, style: c.ropeStyle };
    const out: Dispatch[] = [];
    const push = (d: Dispatch | Dispatch[]) => (Array.isArray(d) ? out.push(...d) : out.push(d));
    const sec = qkvSections(T, c.numHeads * c.headDim, c.numKvHeads * c.headDim);
    const range = (i: number): BufferRange => ({ buffer: a.qkv, offset: sec.sections[i]!.offset * 4, size: T * sec.sections[i]!.width * 4 });
    const [qv, kv, vv] = [range(0), range(1), range(2)];
    /**
     * The inputs of the matmuls that read x (written just before): x itself for float weights,
     * else x's rows quantized as the weights' type asks, once per kind.
     */
    const inputsFrom = (x: GPUBuffer, cols: number, label: string) => {
      const done = new Map<ActQuant, GPUBuffer>();
      return (w: GpuWeight): GPUBuffer => {
        const out = w.actQuant ? a.quantized.get(w.actQuant) : undefined;
        if (!w.actQuant || !out) return x;
        if (!done.has(w.actQuant)) {
          push(quantizeAct(ctx, { step, x, out, cols, maxTokens: T, kind: w.actQuant, trunc: this.options.truncateActivations }, `${label}.${w.actQuant}`));
          done.set(w.actQuant, out);
        }
        return out;
      };
    };

    push(embed(ctx, { step, ids: a.ids, table: w.embed, out: a.x, maxTokens: T }, 'embed'));

    w.layers.forEach((L, l) => {
      const n = `L${l}`;
      // attention block: xn = norm(x (+ previous MLP output))
      push(rmsNorm(ctx, { step, x: a.x, weight: L.attnNorm, out: a.xn, cols: c.hiddenSize, eps, residual: l > 0 ? a.mlp : undefined }, `${n}.attn_norm`));
      let xin = inputsFrom(a.xn, c.hiddenSize, `${n}.attn_in`);
      if (L.qkv) {
        // one matmul for q, k and v, each written to its own section of a.qkv
        push(matmul(ctx, { step, x: xin(L.qkv), w: L.qkv, y: a.qkv, bias: L.qkvBias ?? undefined, maxTokens: T, sections: sec.sections }, `${n}.qkv`));
      } else {
        const into = (i: number) => ({ y: a.qkv, sections: [sec.sections[i]!] });
        push(matmul(ctx, { step, x: xin(L.q!), w: L.q!, ...into(0), bias: L.qBias ?? undefined, maxTokens: T }, `${n}.q`));
        push(matmul(ctx, { step, x: xin(L.k!), w: L.k!, ...into(1), bias: L.kBias ?? undefined, maxTokens: T }, `${n}.k`));
        push(matmul(ctx, { step, x: xin(L.v!), w: L.v!, ...into(2), bias: L.vBias ?? undefined, maxTokens: T }, `${n}.v`));
      }
      let q: BufferRange = qv;
      let k: BufferRange = kv;
      if (L.qNorm && L.kNorm && a.qn && a.kn) {
        push(rmsNorm(ctx, { step, x: qv, weight: L.qNorm, out: a.qn, cols: c.headDim, rowsPerToken: c.numHeads, eps }, `${n}.q_norm`));
        push(rmsNorm(ctx, { step, x: kv, weight: L.kNorm, out: a.kn, cols: c.headDim, rowsPerToken: c.numKvHeads, eps }, `${n}.k_norm`));
        q = a.qn;
        k = a.kn;
      }
      push(rope(ctx, { step, x: q, nHeads: c.numHeads, headDim: c.headDim, maxTokens: T, ...ropeArgs }, `${n}.rope_q`));
      push(kvAppend(ctx, { step, k, v: vv, kCache: this.kCache[l]!, vCache: this.vCache[l]!, nKvHeads: c.numKvHeads, headDim: c.headDim, maxCtx, maxTokens: T, rope: ropeArgs }, `${n}.kv_append`));
      push(attention(ctx, { step, q, kCache: this.kCache[l]!, vCache: this.vCache[l]!, out: a.att, nHeads: c.numHeads, nKvHeads: c.numKvHeads, headDim: c.headDim, maxCtx, maxTokens: T, scratch: this.attnScratch }, `${n}.attention`));
      push(matmul(ctx, { step, x: inputsFrom(a.att, c.numHeads * c.headDim, `${n}.o_in`)(L.o), w: L.o, y: a.o, maxTokens: T }, `${n}.o`));
      // MLP block: xn = norm(x += attention output)
      push(rmsNorm(ctx, { step, x: a.x, weight: L.ffnNorm, out: a.xn, cols: c.hiddenSize, eps, residual: a.o }, `${n}.ffn_norm`));
      xin = inputsFrom(a.xn, c.hiddenSize, `${n}.ffn_in`);
      if (L.gateUp) {
        // one matmul for gate and up: each output row is gate (intermediate floats) then up
        push(matmul(ctx, { step, x: xin(L.gateUp), w: L.gateUp, y: a.gate, maxTokens: T }, `${n}.gate_up`));
        push(siluMul(ctx, { step, gate: a.gate, up: a.gate, out: a.act, n: c.intermediateSize, maxTokens: T, fused: true }, `${n}.silu_mul`));
      } else {
        push(matmul(ctx, { step, x: xin(L.gate!), w: L.gate!, y: a.gate, maxTokens: T }, `${n}.gate`));
        push(matmul(ctx, { step, x: xin(L.up!), w: L.up!, y: a.up!, maxTokens: T }, `${n}.up`));
        push(siluMul(ctx, { step, gate: a.gate, up: a.up!, out: a.act, n: c.intermediateSize, maxTokens: T }, `${n}.silu_mul`));
      }
      push(matmul(ctx, { step, x: inputsFrom(a.act, c.intermediateSize, `${n}.down_in`)(L.down), w: L.down, y: a.mlp, maxTokens: T }, `${n}.down`));
    });

    push(rmsNorm(ctx, { step, x: a.x, weight: w.finalNorm, out: a.xn, cols: c.hiddenSize, eps, residual: a.mlp }, 'final_norm'));
    // every row is quantized (logitsOfEveryRow reads them too); the last quantization of the pass,
    // so its buffer still holds them when logitsOfEveryRow's launches run
    this.lmHeadInput = inputsFrom(a.xn, c.hiddenSize, 'lm_head_in')(w.lmHead);
    push(matmul(ctx, { step, x: this.lmHeadInput, w: w.lmHead, y: a.logits, maxTokens: T, lastRowOnly: true }, 'lm_head'));
    return out;
  }

  /**
   * Launches computing the logits of every row of the submit (after the forward's own launches,
   * which leave every row's final-normed hidden state in xn) into a [rows, vocab] buffer. Rows are
   * capped so the buffer stays near 64 MB at large vocabularies: submit at most `rows` tokens.
   */
  logitsOfEveryRow(): { logits: GPUBuffer; dispatches: Dispatch[]; rows: number } {
    if (!this.everyRow) {
      const c = this.config;
      const rows = Math.max(1, Math.min(this.options.maxTokens, Math.floor((64 << 20) / (c.vocabSize * 4))));
      const logits = createStorage(this.ctx, rows * c.vocabSize * 4, 'logits.every_row');
      const dispatches = matmul(this.ctx, { step: this.stepBuffer, x: this.lmHeadInput ?? this.act.xn, w: this.weights.lmHead, y: logits, maxTokens: rows }, 'lm_head.every_row');
      this.everyRow = { logits, dispatches, rows };
    }
    return this.everyRow;
  }

  /** Number of kernel launches one decode step records (those whose grid is non-empty at M = 1). */
  dispatchCount(tokens: number): number {
    const step = { tokens, pos: 0, kvLen: tokens };
    return this.dispatches.filter((d) => {
      const g = typeof d.grid === 'function' ? d.grid(step) : d.grid;
      return g[0] * g[1] * g[2] > 0;
    }).length;
  }

  destroy(): void {
    destroyDispatches(this.dispatches);
    for (const [k, b] of Object.entries(this.act)) if (k !== 'quantized') (b as GPUBuffer | null)?.destroy();
    for (const b of this.act.quantized.values()) b.destroy();
    for (const b of [...this.kCache, ...this.vCache]) b.destroy();
    this.attnScratch.destroy();
    if (this.everyRow) {
      destroyDispatches(this.everyRow.dispatches);
      this.everyRow.logits.destroy();
    }
  }
}

/** Every weight matrix of the model (the tied embedding once). */
function allMatrices(w: ModelWeights): GpuWeight[] {
  const all = new Set<GpuWeight>([w.embed, w.lmHead]);
  for (const L of w.layers) for (const m of [L.qkv, L.q, L.k, L.v, L.o, L.gateUp, L.gate, L.up, L.down]) if (m) all.add(m);
  return [...all];
}

export function destroyModelWeights(w: ModelWeights): void {
  const seen = new Set<GpuWeight>();
  const dw = (x: GpuWeight) => {
    if (!seen.has(x)) {
      seen.add(x);
      destroyWeight(x);
    }
  };
  dw(w.embed);
  dw(w.lmHead);
  w.finalNorm.destroy();
  w.invFreq.destroy();
  for (const L of w.layers) {
    for (const m of [L.qkv, L.q, L.k, L.v, L.o, L.gateUp, L.gate, L.up, L.down]) if (m) dw(m);
    for (const b of [L.attnNorm, L.ffnNorm, L.qkvBias, L.qBias, L.kBias, L.vBias, L.qNorm, L.kNorm]) b?.destroy();
  }
}
