// The columns of a kernel-3, padding-1 conv1d (im2col), so the conv runs as a matmul whose weight is
// the conv weight [c_out, c_in, 3] read as [c_out, c_in * 3]:
//   u[t, c * 3 + k] = x[t * stride + k - 1, c]   (0 outside 0..t_in-1)
// x is time-major [t_in, c_in]; t runs over step.tokens output steps.

struct Params {
  c_in: u32,
  t_in: u32,
  stride: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> u: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.x + wg.y * 65535u) * 64u + lid;
  let row = p.c_in * 3u;
  if (i >= step.tokens * row) { return; }
  let t = i / row;
  let r = i % row;
  let c = r / 3u;
  let src = i32(t * p.stride + r % 3u) - 1;
  var v = 0.0;
  if (src >= 0 && u32(src) < p.t_in) { v = x[u32(src) * p.c_in + c]; }
  u[i] = v;
}
