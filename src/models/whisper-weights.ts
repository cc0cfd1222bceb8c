import { HearthError } from '../errors.js';
import { whisperSchema, whisperTensorF32, type WhisperConfig, type WhisperFiles } from '../formats/whisper.js';
import type { GpuContext } from '../gpu/device.js';
import { uploadStorage } from '../gpu/buffers.js';
import { destroyWeight, uploadWeight, type GpuWeight } from '../gpu/weights.js';
import { throwIfAborted } from '../hub/byte-source.js';

/**
 * Whisper's weights on the GPU: matrices (linear layers, the two convs read as [cOut, cIn * 3], the
 * token embedding that is also the output projection) in their file's float format, read by the
 * matmul and embed kernels; norms, biases and position tables as f32 vectors.
 */
export interface WhisperWeights {
  config: WhisperConfig;
  matrix(name: string): GpuWeight;
  vector(name: string): GPUBuffer;
  /** GPU bytes held. */
  bytes: number;
  destroy(): void;
}

const isMatrix = (name: string, shape: number[]): boolean => name === 'dec.embed' || (name.endsWith('.w') && shape.length >= 2);

export async function uploadWhisperWeights(ctx: GpuContext, files: WhisperFiles, signal?: AbortSignal): Promise<WhisperWeights> {
  const mats = new Map<string, GpuWeight>();
  const vecs = new Map<string, GPUBuffer>();
  const destroy = (): void => {
    for (const w of mats.values()) destroyWeight(w);
    for (const b of vecs.values()) b.destroy();
    mats.clear();
    vecs.clear();
  };
  let bytes = 0;
  try {
    for (const { name, shape } of whisperSchema(files.config)) {
      throwIfAborted(signal);
      const t = await files.tensor(name, signal);
      if (isMatrix(name, shape)) {
        const rows = shape[0]!;
        const cols = shape.slice(1).reduce((a, b) => a * b, 1);
        const w = uploadWeight(ctx, t.dtype === 'F16' ? 'f16' : 'f32', rows, cols, t.data, { label: `whisper.${name}` });
        mats.set(name, w);
        bytes += w.bytes;
      } else {
        const b = uploadStorage(ctx, whisperTensorF32(t), `whisper.${name}`);
        vecs.set(name, b);
        bytes += b.size;
      }
    }
  } catch (e) {
    destroy();
    throw e;
  }
  const missing = (name: string): never => {
    throw new HearthError('INTERNAL', `Whisper weight ${name} was not uploaded.`, { hint: 'This is a bug in Hearth: please report it.' });
  };
  return {
    config: files.config,
    matrix: (name) => mats.get(name) ?? missing(name),
    vector: (name) => vecs.get(name) ?? missing(name),
    bytes,
    destroy,
  };
}
