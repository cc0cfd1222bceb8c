// Per-submit values shared by every kernel (src/gpu/dispatch.ts, StepUniform).
struct Step {
  tokens: u32,  // tokens in this submit (M); 1 in decode
  pos: u32,     // position of the first of them
  kv_len: u32,  // KV length after appending them
  seed: u32,    // sampler seed for this step
}

// a / b to within about an ulp: one Newton step on the quotient, since WGSL lets `/` be 2.5 ulp
// off and some drivers (SwiftShader) are further off, which moves a quantized value across rounding boundaries
fn div(a: f32, b: f32) -> f32 {
  let q = a / b;
  return q + fma(-q, b, a) / b;
}
