// x rows of any length: rows need not start on a vec4, and the weights' zero padding past K
// must meet zeros, not the next row's values, so reads past the row are masked.
@group(0) @binding(2) var<storage, read> x: array<f32>;

fn load_x4(base: u32, k: u32) -> vec4f {
  let i = base + k;
  return vec4f(
    select(0.0, x[i], k < p.k),
    select(0.0, x[i + 1u], k + 1u < p.k),
    select(0.0, x[i + 2u], k + 2u < p.k),
    select(0.0, x[i + 3u], k + 3u < p.k),
  );
}
