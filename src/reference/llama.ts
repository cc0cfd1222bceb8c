/**
 * The forward pass on the CPU, in plain TypeScript: the oracle that the GPU recipes
 * (src/models/llama.ts, src/models/gemma3.ts) are tested against. Same steps, same canonical
 * tensor names, weights given as dequantized f32 arrays (norms as the kernels use them:
 * models/load.ts normWeight). The Llama family and Gemma 3 differ only where the config says.
 */
import type { ModelConfig } from '../formats/config.js';
import { localInvFreq, modelInvFreq } from '../models/rope-table.js';
import { attentionRef } from './attention.js';
import { gatedActRef } from './elementwise.js';
import { kvAppendRef } from './kvcache.js';
import { matmulRef } from './matmul.js';
import { addInPlace, rmsNormRef } from './norm.js';
import { ropeRef } from './rope.js';
import { quantizeActRef } from './act-quant.js';
import type { ActQuant } from '../quant/formats.js';

export interface ReferenceLlamaOptions {
  /**
   * Per matrix (canonical name), how its input activations are quantized first, as the GPU
   * forward does (GpuWeight.actQuant); absent: f32 inputs.
   */
  actQuant?: ReadonlyMap<string, ActQuant | null>;
  /** q8_0 blocks round q toward zero (ForwardOptions.truncateActivations). */
  truncateActivations?: boolean;
  /** q8_0 blocks keep d in f32, as the integer-dot GEMVs' packed rows do (activations 'int8'). */
  f32Scale?: boolean;
}

export class ReferenceLlama {
  private kCache: Float32Array[];
  private vCache: Float32Array[];
  private invFreq: Float32Array;
  private invFreqLocal: Float32Array;

  /** `weights` by canonical name (embed, layers.N.q, ..., final_norm, lm_head), as f32. */
  constructor(readonly config: ModelConfig, private weights: Map<string, Float32Array>, readonly maxCtx: number, private options: ReferenceLlamaOptions = {}) {
    const size = config.numKvHeads * maxCtx * config.headDim;
    this.kCache = Array.from({ length: config.numLayers }, () => new Float32Array(size));
    this.vCache = Array.from({ length: config.numLayers }, () => new Float32Array(size));
    this.invFreq = modelInvFreq(config, maxCtx);
    this.invFreqLocal = config.ropeLocalTheta !== null ? localInvFreq(config) : this.invFreq;
  }

  private w(name: string): Float32Array {
    const t = this.weights.get(name);
    if (!t) throw new Error(`reference model has no tensor ${name}`);
    return t;
  }

  /** y = x @ W^T (+ bias) for the matrix `name`, its input quantized as that matrix asks. */
  private mm(x: Float32Array, name: string, n: number, rows: number, cols: number, bias?: Float32Array): Float32Array {
    const kind = this.options.actQuant?.get(name);
    const xin = kind ? quantizeActRef(x, n, cols, kind, { trunc: this.options.truncateActivations, f32Scale: this.options.f32Scale }) : x;
    return matmulRef(xin, this.w(name), n, rows, cols, bias);
  }

  /** Run `tokens` at positions pos..pos+n-1 (their K/V go into the cache) and return the last token's logits. */
  forward(tokens: number[], pos: number): Float32Array {
    const c = this.config;
    const n = tokens.length;
    const D = c.hiddenSize;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const F = c.intermediateSize;
    const opt = (name: string) => this.weights.get(name);

    const embed = this.w('embed');
    const x = new Float32Array(n * D);
    const scale = Math.fround(c.embedScale);
    tokens.forEach((id, t) => {
      for (let i = 0; i < D; i++) x[t * D + i] = Math.fround(embed[id * D + i]! * scale);
    });

    for (let l = 0; l < c.numLayers; l++) {
      const p = `layers.${l}`;
      const local = c.slidingLayers[l]!;
      const invFreq = local ? this.invFreqLocal : this.invFreq;
      const xn = rmsNormRef(x, this.w(`${p}.attn_norm`), n, D, c.rmsNormEps);
      let q = this.mm(xn, `${p}.q`, n, qDim, D, opt(`${p}.q_bias`));
      let k = this.mm(xn, `${p}.k`, n, kvDim, D, opt(`${p}.k_bias`));
      const v = this.mm(xn, `${p}.v`, n, kvDim, D, opt(`${p}.v_bias`));
      if (c.qkNorm) {
        q = rmsNormRef(q, this.w(`${p}.q_norm`), n * c.numHeads, c.headDim, c.rmsNormEps);
        k = rmsNormRef(k, this.w(`${p}.k_norm`), n * c.numKvHeads, c.headDim, c.rmsNormEps);
      }
      const rope = { invFreq, rotaryDim: c.rotaryDim, style: c.ropeStyle };
      ropeRef(q, n, c.numHeads, c.headDim, c.rotaryDim, invFreq, c.ropeStyle, pos);
      kvAppendRef(this.kCache[l]!, this.vCache[l]!, k, v, n, c.numKvHeads, c.headDim, this.maxCtx, pos, rope);
      const att = attentionRef({ q, kCache: this.kCache[l]!, vCache: this.vCache[l]!, tokens: n, pos, nHeads: c.numHeads, nKvHeads: c.numKvHeads, headDim: c.headDim, maxCtx: this.maxCtx, scale: c.attentionScale, window: local ? c.slidingWindow : 0 });
      let o = this.mm(att, `${p}.o`, n, D, qDim);
      if (c.postNorms) o = rmsNormRef(o, this.w(`${p}.post_attn_norm`), n, D, c.rmsNormEps);
      addInPlace(x, o);
      const hn = rmsNormRef(x, this.w(`${p}.ffn_norm`), n, D, c.rmsNormEps);
      const act = gatedActRef(c.hiddenAct, this.mm(hn, `${p}.gate`, n, F, D), this.mm(hn, `${p}.up`, n, F, D));
      let mlp = this.mm(act, `${p}.down`, n, D, F);
      if (c.postNorms) mlp = rmsNormRef(mlp, this.w(`${p}.post_ffn_norm`), n, D, c.rmsNormEps);
      addInPlace(x, mlp);
    }
    const last = rmsNormRef(x.subarray((n - 1) * D, n * D), this.w('final_norm'), 1, D, c.rmsNormEps);
    return this.mm(last, this.weights.has('lm_head') ? 'lm_head' : 'embed', 1, c.vocabSize, D);
  }

  /** Greedy decoding from a prompt: the ids the GPU engine must reproduce at temperature 0. */
  greedy(prompt: number[], steps: number): { ids: number[]; logits: Float32Array[] } {
    const ids: number[] = [];
    const logits: Float32Array[] = [];
    let l = this.forward(prompt, 0);
    let pos = prompt.length;
    for (let i = 0; i < steps; i++) {
      logits.push(l);
      let best = 0;
      for (let j = 1; j < l.length; j++) if (l[j]! > l[best]!) best = j;
      ids.push(best);
      if (i + 1 < steps) l = this.forward([best], pos++);
    }
    return { ids, logits };
  }
}
