// Norm-feeding epilogue of a residual GEMV (the GEMV only; x += att @ Wo, x += act @ Wdown at decode):
// besides storing the new residual values through store_y, it hands the next RMSNorm what that
// norm's consumer would otherwise recompute in every thread: xg = x * g (g the next norm's weight,
// bound at 13, written to 14) and, per group of four columns, the new values' sum of squares (15,
// one partial at (col0 + n0) / 4). The consumer (matmul_prologue_norm_pre.wgsl) reads xg as its x
// and adds the K / 4 partials once, so its loop is the plain GEMV's. Partials are summed in a fixed
// order: no atomics, the same bits every run. Columns are those of the residual row (one row: M = 1).

@group(0) @binding(13) var<storage, read> norm_out_w: array<f32>;
@group(0) @binding(14) var<storage, read_write> norm_out_xg: array<f32>;
@group(0) @binding(15) var<storage, read_write> norm_out_ss: array<f32>;

fn row_map(n0: u32) -> vec4u {
  return vec4u(n0) + vec4u(0u, 1u, 2u, 3u);
}

fn store_norm_out(m: u32, n: u32, v: f32) -> f32 {
  let r = store_y(m, n, v);
  let col = p.col0 + n;
  norm_out_xg[col] = r * norm_out_w[col];
  return r * r;
}

fn store4(m: u32, n0: u32, v: vec4f) {
  var ss = store_norm_out(m, n0, v.x);
  if (n0 + 1u < p.n) { ss += store_norm_out(m, n0 + 1u, v.y); }
  if (n0 + 2u < p.n) { ss += store_norm_out(m, n0 + 2u, v.z); }
  if (n0 + 3u < p.n) { ss += store_norm_out(m, n0 + 3u, v.w); }
  norm_out_ss[(p.col0 + n0) / 4u] = ss;
}
