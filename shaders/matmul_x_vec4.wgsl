// x rows start on a vec4 (K % 4 == 0, and K % 8 == 0 for f16): one aligned load.
@group(0) @binding(2) var<storage, read> x: array<vec4f>;

// x[base + k .. base + k + 3]; base = row * K, k a multiple of 4 inside the row.
fn load_x4(base: u32, k: u32) -> vec4f {
  return x[(base + k) / 4u];
}
