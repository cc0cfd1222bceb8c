import { HearthError } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { isCpuAdapter } from '../gpu/device.js';
import type { ModelSource } from '../hub/byte-source.js';
import { openModel } from '../formats/model-files.js';
import { tokenizerFromGguf, tokenizerFromHf } from '../tokenizer/index.js';
import { loadWeights, type LoadProgress, type WeightDtype } from '../models/load.js';
import { Engine } from './engine.js';
import { FingerprintingSource } from '../sessions/identity.js';

export interface EngineLoadOptions {
  /** GPU format of the weight matrices; absent: as stored (bf16 becomes f16). */
  dtype?: WeightDtype;
  /** KV cache length in tokens; default min(model maximum, 4096). */
  contextLength?: number;
  /** Tokens per prefill submit; default 128 on CPU adapters, 512 on GPUs. */
  prefillChunk?: number;
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
  const prefillChunk = Math.min(contextLength, opts.prefillChunk ?? (isCpuAdapter(ctx) ? 128 : 512));
  const loaded = await loadWeights(ctx, source, files, { dtype: opts.dtype, onProgress: opts.onProgress, signal: opts.signal });
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
    identity: source.identity(files.tensors, config, opts.dtype, loaded.formats),
  });
  await ctx.device.queue.onSubmittedWorkDone();
  opts.onProgress?.({ phase: 'compile', loaded: 1, total: 1 });
  return engine;
}
