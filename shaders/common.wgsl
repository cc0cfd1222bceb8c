// Per-submit values shared by every kernel (src/gpu/dispatch.ts, StepUniform).
struct Step {
  tokens: u32,  // tokens in this submit (M); 1 in decode
  pos: u32,     // position of the first of them
  kv_len: u32,  // KV length after appending them
  seed: u32,    // sampler seed for this step
}
