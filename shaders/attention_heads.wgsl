// One head's slice of a [tokens, row_stride] activation (q, k or v inside a fused projection)
// moved to or from a dense per-head block, so attention can run as matmuls (S = q k^T,
// softmax, O = S v) on drivers where the matmul kernels are the fastest thing there is:
//   split:    dst[t, e]           = src[off + t * row_stride + head * hd + e] * scale
//   split_t:  dst[e, t]           = the same, transposed (dst row stride t_stride)
//   merge:    dst[t, head*hd + e] = src[t, e]   (dst rows of heads * hd)
// over t < step.tokens, e < hd.

struct Params {
  hd: u32,
  head: u32,
  heads: u32,
  row_stride: u32,
  off: u32,
  t_stride: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

fn index(wg: vec3u, lid: u32) -> u32 {
  return (wg.x + wg.y * 65535u) * 64u + lid;
}

@compute @workgroup_size(64)
fn split(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wg, lid);
  if (i >= step.tokens * p.hd) { return; }
  let t = i / p.hd;
  let e = i % p.hd;
  dst[i] = src[p.off + t * p.row_stride + p.head * p.hd + e] * p.scale;
}

@compute @workgroup_size(64)
fn split_t(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wg, lid);
  if (i >= step.tokens * p.hd) { return; }
  let t = i % step.tokens;
  let e = i / step.tokens;
  dst[e * p.t_stride + t] = src[p.off + t * p.row_stride + p.head * p.hd + e] * p.scale;
}

@compute @workgroup_size(64)
fn merge(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wg, lid);
  if (i >= step.tokens * p.hd) { return; }
  let t = i / p.hd;
  let e = i % p.hd;
  dst[t * p.heads * p.hd + p.head * p.hd + e] = src[i];
}
