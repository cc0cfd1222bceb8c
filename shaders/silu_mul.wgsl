// The gated MLP's product: out[m, i] = silu(gate[m, i]) * up[m, i], silu(g) = g / (1 + e^-g).
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
