/**
 * Gemma 3's text decoder as a recipe: Llama's shape plus embeddings scaled by sqrt(hidden), q/k
 * RMSNorm, a norm after attention and after the MLP (before each residual add), GELU(tanh) gating,
 * and sliding-window ("local") layers with their own RoPE base between the global ones.
 */
import type { ModelConfig } from '../formats/config.js';
import type { Steps } from './steps.js';
import type { ModelWeights } from './weights.js';

export function gemma3(f: Steps, w: ModelWeights, c: ModelConfig): void {
  let residual: GPUBuffer | null = null; // the previous block's (post-normed) output, not yet added to x
  f.embed(w.embed, c.embedScale); // x = embedding rows * sqrt(hidden)
  w.layers.forEach((L, l) => {
    f.beginLayer(l);
    const local = c.slidingLayers[l]!; // local layers: a window of recent tokens, their own RoPE base
    const invFreq = local ? (w.invFreqLocal ?? w.invFreq) : w.invFreq;
    // attention block
    f.norm(L.attnNorm, residual, 'attn_norm'); // x += residual; xn = rmsnorm(x)
    f.qkv(L.qkv); // q, k, v = xn @ Wq, Wk, Wv
    f.qkNorm(L.qNorm!, L.kNorm!); // per-head rmsnorm of q and k
    f.ropeQ(invFreq); // rotate q
    f.appendKv(l, invFreq); // rotate k; append k, v to the cache
    f.attend(l, { window: local ? c.slidingWindow : 0, scale: c.attentionScale }); // att = softmax(q K^T * query_pre_attn_scalar^-0.5) V
    residual = f.postNorm(L.postAttnNorm!, f.attnOutput(L.o), 'post_attn_norm'); // rmsnorm(att @ Wo)
    // MLP block
    f.norm(L.ffnNorm, residual, 'ffn_norm'); // x += residual; xn = rmsnorm(x)
    residual = f.postNorm(L.postFfnNorm!, f.gatedMlp(L.gateUp, L.down, 'gelu_tanh'), 'post_ffn_norm'); // rmsnorm((gelu(xn Wg) * (xn Wu)) Wd)
  });
  f.norm(w.finalNorm, residual, 'final_norm'); // x += residual; xn = rmsnorm(x)
  f.logits(w.lmHead); // logits = xn[last] @ Wembed (tied)
}
