/**
 * A model's forward pass on the GPU: its state (Activations, KvCache) and the launch list its
 * architecture's recipe records over them, built once at load. The engine writes the step uniform
 * and the token ids, then replays `dispatches`.
 */
import type { GpuContext } from '../gpu/device.js';
import { createStorage } from '../gpu/buffers.js';
import { destroyDispatches, type Dispatch } from '../gpu/dispatch.js';
import type { Architecture, ModelConfig } from '../formats/config.js';
import type { ActQuant } from '../quant/formats.js';
import { matmul } from '../kernels/matmul.js';
import type { KvFormat } from '../kernels/kv_append.js';
import { Activations, KvCache } from './state.js';
import { Steps } from './steps.js';
import { allMatrices, type ModelWeights } from './weights.js';
import { llama } from './llama.js';
import { gemma3 } from './gemma3.js';

/** A recipe: one architecture's forward pass written in Steps. */
export type Recipe = (f: Steps, w: ModelWeights, c: ModelConfig) => void;

const RECIPES: Readonly<Record<Architecture, Recipe>> = {
  llama,
  mistral: llama,
  qwen2: llama,
  qwen3: llama,
  gemma3,
  // Phi-3's block is Llama's (its fused qkv_proj / gate_up_proj are split into q, k, v / gate, up
  // as the file is opened, and fused back into one matmul at load; LongRoPE lives in inv_freq and
  // the attention scale; its sliding window, when set, covers every layer)
  phi3: llama,
};

/** The recipe of an architecture. */
export function recipeFor(arch: Architecture): Recipe {
  return RECIPES[arch];
}

export type ActivationMode = 'q8' | 'f32' | 'int8';

export interface ForwardOptions {
  /** Tokens per prefill submit (the M of the prefill GEMMs). */
  maxTokens: number;
  /** KV cache length. */
  contextLength: number;
  /**
   * 'q8': quantize each quantized matrix's input activations as llama.cpp does
   * (GpuWeight.actQuant); 'f32' (default): multiply every matrix with the f32 activations as they are;
   * 'int8': the GEMVs of quantized matrices take integer dot products (MatmulArgs.intDot: input
   * rows packed to int8 blocks of 32) where the device has them, decode launches unfused.
   */
  activations?: ActivationMode;
  /** q8_0 blocks only: round q toward zero, as ggml's wasm SIMD build does (default: to nearest). */
  truncateActivations?: boolean;
  /** The KV cache's format: 'f32' (default) or 'f16' (KvCache). */
  kvCache?: KvFormat;
  /** Fuse decode steps into the GEMVs (StepsOptions.fuse; default true): false for A/B measurements. */
  fuse?: boolean;
}

export class Forward {
  readonly act: Activations;
  readonly kv: KvCache;
  /** Every launch of one forward pass, in order. */
  readonly dispatches: Dispatch[];
  private steps: Steps;
  /** The LM head over every row of a submit (teacher forcing, prompt log-probabilities): built on first use. */
  private everyRow: { logits: GPUBuffer; dispatches: Dispatch[]; rows: number } | null = null;

  constructor(
    private ctx: GpuContext,
    readonly config: ModelConfig,
    readonly weights: ModelWeights,
    readonly options: ForwardOptions,
    private stepBuffer: GPUBuffer,
  ) {
    const q8 = options.activations === 'q8';
    const kinds = new Set<ActQuant>();
    if (q8) for (const m of allMatrices(weights)) if (m.actQuant) kinds.add(m.actQuant);
    this.act = new Activations(ctx, config, options.maxTokens, { separateUp: weights.layers.some((L) => L.gateUp.parts.length > 1), quantized: [...kinds] });
    this.kv = new KvCache(ctx, config, options.contextLength, options.kvCache);
    this.steps = new Steps(ctx, config, this.act, this.kv, { step: stepBuffer, quantizeInputs: q8, truncateActivations: options.truncateActivations, intDot: options.activations === 'int8', fuse: options.fuse });
    RECIPES[config.architecture](this.steps, weights, config);
    this.dispatches = this.steps.dispatches;
  }

  get kvBytes(): number {
    return this.kv.bytes;
  }

  /**
   * Launches computing the logits of every row of the submit (after the forward's own launches,
   * which leave every row's final hidden state in x) into a [rows, vocab] buffer. Rows are
   * capped so the buffer stays near 64 MB at large vocabularies: submit at most `rows` tokens.
   */
  logitsOfEveryRow(): { logits: GPUBuffer; dispatches: Dispatch[]; rows: number } {
    if (!this.everyRow) {
      const c = this.config;
      const rows = Math.max(1, Math.min(this.options.maxTokens, Math.floor((64 << 20) / (c.vocabSize * 4))));
      const logits = createStorage(this.ctx, rows * c.vocabSize * 4, 'logits.every_row');
      const input = this.steps.everyRowInput();
      const dispatches = [...input.dispatches, ...matmul(this.ctx, { step: this.stepBuffer, x: input.x, w: this.weights.lmHead, y: logits, maxTokens: rows, intDot: this.options.activations === 'int8' }, 'lm_head.every_row')];
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
    this.act.destroy();
    this.kv.destroy();
    this.steps.attnScratch.destroy();
    if (this.everyRow) {
      destroyDispatches(this.everyRow.dispatches);
      this.everyRow.logits.destroy();
    }
  }
}
