/**
 * The Llama family's forward pass (Llama 2/3, SmolLM, TinyLlama, Mistral, Qwen2 with q/k/v bias,
 * Qwen3 with q/k norm, Phi-3 with a sliding window in every layer), as a recipe: one line per step, top to bottom, as in llama2.c's forward().
 * The steps (models/steps.ts) record kernel launches once at load; a decode step replays them.
 */
import type { ModelConfig } from '../formats/config.js';
import type { Steps } from './steps.js';
import type { ModelWeights } from './weights.js';

export function llama(f: Steps, w: ModelWeights, c: ModelConfig): void {
  let residual: GPUBuffer | null = null; // the previous block's output, not yet added to x
  f.embed(w.embed); // x = embedding rows of the tokens
  w.layers.forEach((L, l) => {
    f.beginLayer(l);
    // attention block
    f.norm(L.attnNorm, residual, 'attn_norm'); // x += residual; xn = rmsnorm(x)
    f.qkv(L.qkv); // q, k, v = xn @ Wq, Wk, Wv (+ bias on Qwen2)
    if (L.qNorm && L.kNorm) f.qkNorm(L.qNorm, L.kNorm); // per-head rmsnorm (Qwen3)
    f.ropeQ(w.invFreq); // rotate q
    f.appendKv(l, w.invFreq); // rotate k; append k, v to the cache
    f.attend(l, { window: c.slidingLayers[l] ? c.slidingWindow : 0, scale: c.attentionScale }); // att = softmax(q K^T / sqrt(d)) V, causal (within the window, if any)
    residual = f.attnOutput(L.o); // o = att @ Wo
    // MLP block
    f.norm(L.ffnNorm, residual, 'ffn_norm'); // x += o; xn = rmsnorm(x)
    residual = f.gatedMlp(L.gateUp, L.down, 'silu'); // mlp = (silu(xn @ Wg) * (xn @ Wu)) @ Wd
  });
  f.norm(w.finalNorm, residual, 'final_norm'); // x += mlp; xn = rmsnorm(x)
  f.logits(w.lmHead); // logits = xn[last] @ Wlm
}
