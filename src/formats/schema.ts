/**
 * The tensors an architecture's forward pass reads, named canonically (their Hugging Face and GGUF
 * spellings: formats/tensors.ts) with the shapes its config implies. One list drives the file
 * check (checkModelTensors), the loader, the CPU reference and the synthetic test models, so a
 * tensor is named once.
 */
import type { ModelConfig } from './config.js';

export type TensorRole = 'embedding' | 'matrix' | 'norm' | 'bias';

export interface TensorSpec {
  /** Canonical name: 'embed', 'layers.3.q', 'final_norm'. */
  name: string;
  shape: number[];
  role: TensorRole;
}

/** The per-layer tensors of layer `l`, in the order the forward pass uses them. */
export function layerSchema(c: ModelConfig, l: number): TensorSpec[] {
  const p = `layers.${l}.`;
  const D = c.hiddenSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const out: TensorSpec[] = [{ name: p + 'attn_norm', shape: [D], role: 'norm' }];
  out.push({ name: p + 'q', shape: [qDim, D], role: 'matrix' }, { name: p + 'k', shape: [kvDim, D], role: 'matrix' }, { name: p + 'v', shape: [kvDim, D], role: 'matrix' });
  if (c.attentionBias) out.push({ name: p + 'q_bias', shape: [qDim], role: 'bias' }, { name: p + 'k_bias', shape: [kvDim], role: 'bias' }, { name: p + 'v_bias', shape: [kvDim], role: 'bias' });
  if (c.qkNorm) out.push({ name: p + 'q_norm', shape: [c.headDim], role: 'norm' }, { name: p + 'k_norm', shape: [c.headDim], role: 'norm' });
  out.push({ name: p + 'o', shape: [D, qDim], role: 'matrix' });
  if (c.postNorms) out.push({ name: p + 'post_attn_norm', shape: [D], role: 'norm' });
  out.push({ name: p + 'ffn_norm', shape: [D], role: 'norm' });
  out.push({ name: p + 'gate', shape: [c.intermediateSize, D], role: 'matrix' }, { name: p + 'up', shape: [c.intermediateSize, D], role: 'matrix' });
  out.push({ name: p + 'down', shape: [D, c.intermediateSize], role: 'matrix' });
  if (c.postNorms) out.push({ name: p + 'post_ffn_norm', shape: [D], role: 'norm' });
  return out;
}

/** Every tensor of the model. */
export function tensorSchema(c: ModelConfig): TensorSpec[] {
  const out: TensorSpec[] = [{ name: 'embed', shape: [c.vocabSize, c.hiddenSize], role: 'embedding' }];
  for (let l = 0; l < c.numLayers; l++) out.push(...layerSchema(c, l));
  out.push({ name: 'final_norm', shape: [c.hiddenSize], role: 'norm' });
  if (!c.tieWordEmbeddings) out.push({ name: 'lm_head', shape: [c.vocabSize, c.hiddenSize], role: 'matrix' });
  return out;
}
