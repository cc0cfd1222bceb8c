// The gated MLP's product: out[m, i] = act(gate[m, i]) * up[m, i], with act one of
//   silu(g) = g / (1 + e^-g)                                     (entry point `main`: Llama, Qwen, ...)
//   gelu_tanh(g) = 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3)))  (entry point `gelu_tanh`: Gemma)
// gate and up rows are `stride` floats apart, up's `up_offset` floats into its row: separate
// [tokens, n] buffers (stride n, offset 0), or one fused [tokens, 2n] gate|up (stride 2n, offset n).

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
  let g = gate[at];
  // for g << 0, exp(-g) overflows to +inf and g / inf gives the right limit, -0
  out[i] = g / (1.0 + exp(-g)) * up[at + p.up_offset];
}

// gelu_tanh without tanh, whose WGSL implementations can overflow to NaN for large |x|:
// 0.5 (1 + tanh(y)) = sigmoid(2y), and sigmoid(z) = 1 / (1 + e^-z) for z >= 0, e^z / (1 + e^z) below,
// where e^-|z| never overflows. Past |g| = 10, |z| > 87 and the sigmoid is 0 or 1 in f32, so g is
// clamped there first: no cube, no exponent ever overflows.
fn gelu_tanh_of(g: f32) -> f32 {
  let x = clamp(g, -10.0, 10.0);
  let z = 1.5957691216057308 * x * (1.0 + 0.044715 * x * x);  // 2 sqrt(2/pi) (x + 0.044715 x^3)
  let e = exp(-abs(z));
  let sig = select(e, 1.0, z >= 0.0) / (1.0 + e);
  return select(g * sig, 0.0, g < -10.0);
}

@compute @workgroup_size(64)
fn gelu_tanh(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.x + wg.y * 65535u) * 64u + lid;
  if (i >= step.tokens * p.n) { return; }
  let at = (i / p.n) * p.stride + i % p.n;
  out[i] = gelu_tanh_of(gate[at]) * up[at + p.up_offset];
}
