import { HearthError } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { isCpuAdapter } from '../gpu/device.js';
import type { ModelSource } from '../hub/byte-source.js';
import { openModel } from '../formats/model-files.js';
import { tokenizerFromGguf, tokenizerFromHf } from '../tokenizer/index.js';
import { loadWeights, type LoadProgress, type WeightDtype } from '../models/load.js';
import { longRopeFactors } from '../models/rope-table.js';
import { Engine } from './engine.js';
import type { ActivationMode } from '../models/forward.js';
import { KV_FORMATS, type KvFormat } from '../kernels/kv_append.js';
import { FingerprintingSource } from './identity.js';

export interface EngineLoadOptions {
  /** GPU format of the weight matrices; absent: as stored (bf16 becomes f16). */
  dtype?: WeightDtype;
  /** KV cache length in tokens; default min(model maximum, 4096). */
  contextLength?: number;
  /** Tokens per prefill submit; default 128 on CPU adapters, 512 on GPUs. */
  prefillChunk?: number;
  /**
   * 'f32' (default): every matrix multiplies the f32 activations as they are. 'q8': a matrix stored in a quantized ggml type (or quantized at load with dtype
   * q8_0/q4_0) multiplies 8-bit-quantized activations, as llama.cpp's CPU backend computes it
   * (q8_0 blocks for Q4_0/Q4_1/Q5_x/Q8_0/IQ4_NL, q8_K for k-quants and IQ4_XS); float matrices
   * always take f32 activations. Measured on SmolLM2 Q4_1 and on a Q8_0 file, 'q8' does not
   * bring Hearth closer to llama.cpp (wllama 3.8.1) than 'f32' does, so it is not the default.
   * 'int8': the decode GEMVs of block-format matrices pack their input row to int8 blocks of 32
   * and use dot4I8Packed where the device has WGSL's packed_4x8_integer_dot_product (f32 where
   * not); decode launches are not fused then. Accuracy: bench/results/2026-12-06-intdot-accuracy.md.
   */
  activations?: ActivationMode;
  /**
   * How the KV cache holds its values: 'f32' (default); 'f16' (two halves per u32, no
   * shader-f16 needed): half the memory and half the attention's reads; 'q8' (blocks of 32 int8
   * with an f32 scale): 0.28x the memory, its K/V written by a launch of their own at decode.
   */
  kvCache?: KvFormat;
  /** Fuse decode's memory-bound steps into the GEMVs (default true); false only to measure what fusion buys. */
  fuse?: boolean;
  /** Which file of a repository holding several GGUF files. */
  file?: string;
  onProgress?: (p: LoadProgress) => void;
  signal?: AbortSignal;
}

/** Open a model source, build its tokenizer, upload its weights and return a ready Engine. */
export async function loadEngine(ctx: GpuContext, loadFrom: ModelSource, opts: EngineLoadOptions = {}): Promise<Engine> {
  // samples the tensors as they are read, for the model identity sessions check
  const source = new FingerprintingSource(loadFrom);
  const files = await openModel(source, { file: opts.file });
  const config = files.config;
  const tokenizer = files.format === 'gguf' ? tokenizerFromGguf(files.ggufMetadata!) : tokenizerFromHf(files.hfFiles ?? {});
  const maxCtx = config.maxPositionEmbeddings > 0 ? config.maxPositionEmbeddings : 4096;
  const contextLength = opts.contextLength ?? Math.min(maxCtx, 4096);
  if (!Number.isInteger(contextLength) || contextLength < 2) {
    throw new HearthError('INVALID_ARGUMENT', `contextLength must be an integer of at least 2, got ${opts.contextLength}.`);
  }
  if (opts.activations !== undefined && opts.activations !== 'q8' && opts.activations !== 'f32' && opts.activations !== 'int8') {
    throw new HearthError('INVALID_ARGUMENT', `activations must be 'f32', 'q8' or 'int8', got ${JSON.stringify(opts.activations)}.`, { hint: "Leave it out for f32 activations." });
  }
  if (opts.kvCache !== undefined && !KV_FORMATS.includes(opts.kvCache)) {
    throw new HearthError('INVALID_ARGUMENT', `kvCache must be ${KV_FORMATS.map((f) => `'${f}'`).join(' or ')}, got ${JSON.stringify(opts.kvCache)}.`, { hint: "Leave it out for an f32 KV cache, or pass 'f16' to halve its memory ('q8': about a quarter)." });
  }
  const prefillChunk = Math.min(contextLength, opts.prefillChunk ?? (isCpuAdapter(ctx) ? 128 : 512));
  const loaded = await loadWeights(ctx, source, files, { dtype: opts.dtype, contextLength, onProgress: opts.onProgress, signal: opts.signal });
  opts.onProgress?.({ phase: 'compile', loaded: 0, total: 1 });
  const engine = new Engine({
    ctx,
    modelId: source.id,
    config,
    weights: loaded.weights,
    weightBytes: loaded.bytes,
    weightFormats: loaded.formats,
    tokenizer,
    contextLength,
    prefillChunk,
    activations: opts.activations,
    kvCache: opts.kvCache,
    fuse: opts.fuse,
    identity: source.identity(files.tensors, config, opts.dtype, loaded.formats, longRopeFactors(config, contextLength)),
  });
  await ctx.device.queue.onSubmittedWorkDone();
  opts.onProgress?.({ phase: 'compile', loaded: 1, total: 1 });
  return engine;
}
