// Gated-MLP prologue (the down projection's input): x[m, k] = act(gate[m, k]) * up[m, k], computed
// as each chunk is loaded, so act(gate) * up is never written. gate rows are f.up_stride floats
// apart in `x` (binding 2) and up sits f.up_offset floats into the same row of `up` (binding 11):
// one fused gate|up buffer bound twice (stride 2K, offset K) or two buffers (stride K, offset 0).
// Needs shaders/activations.wgsl. Reads past the row's end give 0 (the weights' zero padding).

override GATED_GELU: bool = false; // act: gelu_tanh (Gemma) instead of silu

@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(11) var<storage, read> up: array<f32>;

fn gated_at(at: u32, in_row: bool) -> f32 {
  if (!in_row) { return 0.0; }
  let g = x[at];
  let a = select(silu_of(g), gelu_tanh_of(g), GATED_GELU);
  return a * up[at + f.up_offset];
}

// base = row * K, as the kernels compute it; k a multiple of 4 inside the row.
fn load_x4(base: u32, k: u32) -> vec4f {
  let at = (base / p.k) * f.up_stride + k;
  return vec4f(gated_at(at, k < p.k), gated_at(at + 1u, k + 1u < p.k), gated_at(at + 2u, k + 2u < p.k), gated_at(at + 3u, k + 3u < p.k));
}
