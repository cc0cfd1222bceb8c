/**
 * Gemma 3's text decoder as a recipe: Llama's shape plus embeddings scaled by sqrt(hidden), q/k
 * RMSNorm, a norm after attention and after the MLP (before each residual add), GELU(tanh) gating,
 * and sliding-window ("local") layers with their own RoPE base between the global ones.
 */
import type { ModelConfig } from '../formats/config.js';
import type { Steps } from './steps.js';
import type { ModelWeights } from './weights.js';

export function gemma3(f: Steps, w: ModelWeights, c: ModelConfig): void {
  f.embed(w.embed, c.embedScale); // x = embedding rows * sqrt(hidden)
  w.layers.forEach((L, l) => {
    f.beginLayer(l);
    const local = c.slidingLayers[l]!; // local layers: a window of recent tokens, their own RoPE base
    const invFreq = local ? (w.invFreqLocal ?? w.invFreq) : w.invFreq;
    // attention block
    f.norm(L.attnNorm, 'attn_norm'); // xn = rmsnorm(x)
    f.qkv(l, L.qkv, { invFreq, qNorm: L.qNorm!, kNorm: L.kNorm! }); // q, k, v = xn @ Wq, Wk, Wv; per-head rmsnorm of q and k; rotate q, k; append k, v to the cache
    f.attend(l, { window: local ? c.slidingWindow : 0, scale: c.attentionScale }); // att = softmax(q K^T * query_pre_attn_scalar^-0.5) V
    f.attnOutput(L.o, L.postAttnNorm!); // x += rmsnorm(att @ Wo)
    // MLP block
    f.norm(L.ffnNorm, 'ffn_norm'); // xn = rmsnorm(x)
    f.gatedMlp(L.gateUp, L.down, 'gelu_tanh', L.postFfnNorm!); // x += rmsnorm((gelu(xn Wg) * (xn Wu)) Wd)
  });
  f.logits(w.finalNorm, w.lmHead); // logits = rmsnorm(x[last]) @ Wembed (tied)
}
