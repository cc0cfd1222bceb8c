// The gated MLP's product: out[m, i] = act(gate[m, i]) * up[m, i], with act one of
//   silu(g) = g / (1 + e^-g)                                     (entry point `main`: Llama, Qwen, ...)
//   gelu_tanh(g) = 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3)))  (entry point `gelu_tanh`: Gemma)
// gate and up rows are `stride` floats apart, up's `up_offset` floats into its row: separate
// [tokens, n] buffers (stride n, offset 0), or one fused [tokens, 2n] gate|up (stride 2n, offset n).
// Needs shaders/activations.wgsl before it (the matmul's gated prologue shares it).

struct Params {
  n: u32,          // features per token
  stride: u32,     // floats from one token's gate (and up) row to the next
  up_offset: u32,  // where up starts in its row
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> gate: array<f32>;
@group(0) @binding(3) var<storage, read> up: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.x + wg.y * 65535u) * 64u + lid;
  if (i >= step.tokens * p.n) { return; }
  let at = (i / p.n) * p.stride + i % p.n;
  out[i] = silu_of(gate[at]) * up[at + p.up_offset];
}

@compute @workgroup_size(64)
fn gelu_tanh(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.x + wg.y * 65535u) * 64u + lid;
  if (i >= step.tokens * p.n) { return; }
  let at = (i / p.n) * p.stride + i % p.n;
  out[i] = gelu_tanh_of(gate[at]) * up[at + p.up_offset];
}
