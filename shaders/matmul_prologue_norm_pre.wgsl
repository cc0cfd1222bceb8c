// RMSNorm prologue fed by the producer (decode GEMV): x (binding 2) already holds x * g, written by
// the previous residual GEMV's epilogue (matmul_epilogue_norm_out.wgsl) with the K / 4 partial sums
// of squares of the raw row at binding 10, zero-padded to whole vec4s. The loop multiplies nothing
// on the way in; the row's scale 1 / sqrt(mean(x^2) + eps) is summed from the partials once per
// thread, instead of from every chunk's squares (matmul_prologue_norm.wgsl), which on a CPU driver
// cost as much as a fifth row of weights.

@group(0) @binding(10) var<storage, read> norm_ss: array<vec4f>;

fn x_pro(xc: Chunk, c: u32) -> Chunk {
  return xc;
}

fn x_row_scale(ss: f32) -> f32 {
  var t = vec4f(0.0);
  let n = (p.k + 15u) / 16u;
  for (var i = 0u; i < n; i++) {
    t += norm_ss[i];
  }
  return inverseSqrt((t.x + t.y + t.z + t.w) / f32(p.k) + f.eps);
}
