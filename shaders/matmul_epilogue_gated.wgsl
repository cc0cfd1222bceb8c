// Gate|up epilogue (the GEMV only) of a fused gate|up projection, rows [gate (I); up (I)]: a group of
// four outputs computes rows (j, j + 1, I + j, I + j + 1), j = n0 / 2, through row_map, and stores
// y[m, j] = act(gate_j) * up_j and y[m, j + 1] into a [M, I] y, the down projection's input: the
// gated product is never a launch of its own and gate and up never reach memory. I is even (f.inter).
// Needs shaders/activations.wgsl.

override GATED_GELU: bool = false; // act: gelu_tanh (Gemma) instead of silu

fn row_map(n0: u32) -> vec4u {
  let j = n0 / 2u;
  return vec4u(j, j + 1u, f.inter + j, f.inter + j + 1u);
}

fn gated_of(g: f32) -> f32 {
  return select(silu_of(g), gelu_tanh_of(g), GATED_GELU);
}

fn store4(m: u32, n0: u32, v: vec4f) {
  let i = m * f.inter + n0 / 2u;
  y[i] = gated_of(v.x) * v.z;
  y[i + 1u] = gated_of(v.y) * v.w;
}
