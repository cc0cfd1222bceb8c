// RMSNorm over rows of `cols` floats: y = x / sqrt(mean(x^2) + eps) * w.
// `main_residual` first adds r into x (the residual stream, updated in place), then normalizes:
// the fused "residual add + norm" between transformer blocks. `main_post_add` norms a block's output
// r and adds it into x (Gemma 3's post-norms before the residual add): x += rmsnorm(r) * w.
// `main_post_add_feed` also feeds the next RMSNorm's decode GEMV (matmul_prologue_norm_pre.wgsl): at
// a one-token step it writes the new row times that norm's weight (xg) and its sum of squares as
// the GEMV's partial sums (each thread's, or the total first and zeros when the row has fewer than
// WG of them).
// One workgroup per row; rows = step.tokens * rows_per_token (rows_per_token > 1 for per-head norms).

struct Params {
  cols: u32,
  rows_per_token: u32,
  eps: f32,
  add_one: u32, // 1: scale by (1 + w), as Gemma stores norms
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read> r: array<f32>;
@group(0) @binding(6) var<storage, read> feed_w: array<f32>;
@group(0) @binding(7) var<storage, read_write> feed_xg: array<f32>;
@group(0) @binding(8) var<storage, read_write> feed_ss: array<f32>;

// WG, partial and reduce_sum come from reduce_sum.wgsl

fn normalize_row(row: u32, lid: u32, ss: f32) {
  let base = row * p.cols;
  let inv = inverseSqrt(ss / f32(p.cols) + p.eps);
  for (var i = lid; i < p.cols; i += WG) {
    let g = select(w[i], 1.0 + w[i], p.add_one == 1u);
    y[base + i] = x[base + i] * inv * g;
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x + wg.y * 65535u;
  if (row >= step.tokens * p.rows_per_token) { return; }
  let base = row * p.cols;
  var ss = 0.0;
  for (var i = lid; i < p.cols; i += WG) { let v = x[base + i]; ss += v * v; }
  normalize_row(row, lid, reduce_sum(lid, ss));
}

@compute @workgroup_size(WG)
fn main_residual(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x + wg.y * 65535u;
  if (row >= step.tokens * p.rows_per_token) { return; }
  let base = row * p.cols;
  var ss = 0.0;
  for (var i = lid; i < p.cols; i += WG) {
    let v = x[base + i] + r[base + i];
    x[base + i] = v;
    ss += v * v;
  }
  normalize_row(row, lid, reduce_sum(lid, ss));
}

// x[base ..] += rmsnorm(r[base ..]) * w
fn post_add_row(base: u32, lid: u32) {
  var ss = 0.0;
  for (var i = lid; i < p.cols; i += WG) { ss += r[base + i] * r[base + i]; }
  let inv = inverseSqrt(reduce_sum(lid, ss) / f32(p.cols) + p.eps);
  for (var i = lid; i < p.cols; i += WG) {
    let g = select(w[i], 1.0 + w[i], p.add_one == 1u);
    x[base + i] = x[base + i] + r[base + i] * inv * g;
  }
}

@compute @workgroup_size(WG)
fn main_post_add(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x + wg.y * 65535u;
  if (row < step.tokens * p.rows_per_token) { post_add_row(row * p.cols, lid); }
}

@compute @workgroup_size(WG)
fn main_post_add_feed(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x + wg.y * 65535u;
  if (row >= step.tokens * p.rows_per_token) { return; }
  post_add_row(row * p.cols, lid);
  if (step.tokens * p.rows_per_token != 1u) { return; }
  // each thread reads back the values it wrote
  var ss = 0.0;
  for (var i = lid; i < p.cols; i += WG) {
    let v = x[i];
    feed_xg[i] = v * feed_w[i];
    ss += v * v;
  }
  // each thread's sum is a partial where there are at least WG of them (no second reduction);
  // else thread 0's slot takes the total
  let n = (p.cols + 15u) / 16u * 4u;
  var mine = ss;
  if (n < WG) { mine = select(0.0, reduce_sum(lid, ss), lid == 0u); }
  for (var i = lid; i < n; i += WG) { feed_ss[i] = select(0.0, mine, i == lid); }
}
