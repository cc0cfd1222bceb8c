/**
 * The Llama family's forward pass (Llama 2/3, SmolLM, TinyLlama, Mistral, Qwen2 with q/k/v bias,
 * Qwen3 with q/k norm, Phi-3 with a sliding window in every layer), as a recipe: one line per step, top to bottom, as in llama2.c's forward().
 * The steps (models/steps.ts) record kernel launches once at load; a decode step replays them.
 */
import type { ModelConfig } from '../formats/config.js';
import type { Steps } from './steps.js';
import type { ModelWeights } from './weights.js';

export function llama(f: Steps, w: ModelWeights, c: ModelConfig): void {
  f.embed(w.embed); // x = embedding rows of the tokens
  w.layers.forEach((L, l) => {
    f.beginLayer(l);
    // attention block
    f.norm(L.attnNorm, 'attn_norm'); // xn = rmsnorm(x)
    f.qkv(l, L.qkv, { invFreq: w.invFreq, qNorm: L.qNorm, kNorm: L.kNorm }); // q, k, v = xn @ Wq, Wk, Wv (+ bias on Qwen2); per-head rmsnorm of q, k (Qwen3); rotate q, k; append k, v to the cache
    f.attend(l, { window: c.slidingLayers[l] ? c.slidingWindow : 0, scale: c.attentionScale }); // att = softmax(q K^T / sqrt(d)) V, causal (within the window, if any)
    f.attnOutput(L.o); // x += att @ Wo
    // MLP block
    f.norm(L.ffnNorm, 'ffn_norm'); // xn = rmsnorm(x)
    f.gatedMlp(L.gateUp, L.down, 'silu'); // x += (silu(xn @ Wg) * (xn @ Wu)) @ Wd
  });
  f.logits(w.finalNorm, w.lmHead); // logits = rmsnorm(x[last]) @ Wlm
}
