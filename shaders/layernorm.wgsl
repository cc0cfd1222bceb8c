// LayerNorm over rows of `cols` floats: y = (x - mean) / sqrt(var + eps) * g + b (Whisper's norms).
// One workgroup per row; rows = step.tokens. Mean first, then the variance around it (two passes
// over the row, as the reference does: no cancellation from E[x^2] - E[x]^2).

struct Params {
  cols: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read> b: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

// WG, partial and reduce_sum come from reduce_sum.wgsl

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x + wg.y * 65535u;
  if (row >= step.tokens) { return; }
  let base = row * p.cols;
  var s = 0.0;
  for (var i = lid; i < p.cols; i += WG) { s += x[base + i]; }
  let mean = reduce_sum(lid, s) / f32(p.cols);
  var v = 0.0;
  for (var i = lid; i < p.cols; i += WG) { let d = x[base + i] - mean; v += d * d; }
  let inv = inverseSqrt(reduce_sum(lid, v) / f32(p.cols) + p.eps);
  for (var i = lid; i < p.cols; i += WG) { y[base + i] = (x[base + i] - mean) * inv * g[i] + b[i]; }
}
