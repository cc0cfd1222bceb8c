// Softmax over rows of `cols` floats, rows = step.tokens * rows_per_token, one workgroup per row.
// Each invocation keeps an online (max, sum of exp(x - max)) over its strided share of the row,
// the workgroup merges those, and a second sweep writes exp(x - max) / sum: two reads of the row
// instead of three.
// `main` writes to y; `main_inplace` overwrites x (a buffer cannot be bound twice writably).

struct Params {
  cols: u32,
  rows_per_token: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

override WG: u32 = 64;
var<workgroup> partial: array<vec2f, WG>;

// Lowest finite f32: a start that no real score is below, and that keeps exp() arguments finite.
const LOWEST: f32 = -3.4028234e38;

// Merge two (max, sum) pairs into one, rescaling each sum to the common max.
fn merge(a: vec2f, b: vec2f) -> vec2f {
  let m = max(a.x, b.x);
  return vec2f(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

// Take one more score into a (max, sum) pair: a single exp per score.
fn absorb(s: vec2f, v: f32) -> vec2f {
  if (v > s.x) { return vec2f(v, s.y * exp(s.x - v) + 1.0); }
  return vec2f(s.x, s.y + exp(v - s.x));
}

// (max, sum) of the row starting at `base`, the same in every invocation of the workgroup.
fn row_stats(base: u32, lid: u32) -> vec2f {
  var s = vec2f(LOWEST, 0.0);
  for (var i = lid; i < p.cols; i += WG) { s = absorb(s, x[base + i]); }
  partial[lid] = s;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h >> 1u) {
    if (lid < h) { partial[lid] = merge(partial[lid], partial[lid + h]); }
    workgroupBarrier();
  }
  return partial[0];
}

fn row_index(wg: vec3u) -> u32 {
  return wg.x + wg.y * 65535u;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wg);
  if (row >= step.tokens * p.rows_per_token) { return; }
  let base = row * p.cols;
  let s = row_stats(base, lid);
  let inv = 1.0 / s.y;
  for (var i = lid; i < p.cols; i += WG) { y[base + i] = exp(x[base + i] - s.x) * inv; }
}

@compute @workgroup_size(WG)
fn main_inplace(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wg);
  if (row >= step.tokens * p.rows_per_token) { return; }
  let base = row * p.cols;
  let s = row_stats(base, lid);
  // every invocation has read the row (row_stats ends on a barrier) before any overwrites it
  let inv = 1.0 / s.y;
  for (var i = lid; i < p.cols; i += WG) { x[base + i] = exp(x[base + i] - s.x) * inv; }
}
