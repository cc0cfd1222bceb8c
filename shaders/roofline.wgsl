// Roofline microbenchmarks: what this adapter can stream from memory and how fast it can FMA,
// measured in the same run as our kernels so they can be read as fractions of it.

struct RoofParams {
  n4: u32,     // vec4s in `src`
  iters: u32,  // FMA loop trips (a uniform, so the compiler cannot fold the loop away)
  mul: f32,
  add: f32,
}

@group(0) @binding(0) var<uniform> rp: RoofParams;
@group(0) @binding(1) var<storage, read> src: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 256u;

// GPUs: adjacent threads read adjacent vec4s, the whole grid striding over the buffer (coalesced).
// CPU drivers run a few invocations side by side, each to the end of its loop, so there each
// thread streams its own contiguous span instead, which the CPU's prefetchers can follow.
override SPANS: bool = false;

// Sum `src` with vec4 loads. Every thread writes its own partial sum: a workgroup reduction
// would add barriers, which on CPU drivers cost more than the whole read; the writes are a small
// fraction of the bytes read (readSumWorkgroups).
@compute @workgroup_size(WG)
fn read_sum(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let threads = nwg.x * WG;
  let stride = select(threads, 1u, SPANS);
  let span = (rp.n4 + threads - 1u) / threads;
  let start = select(gid.x, gid.x * span, SPANS);
  let end = select(rp.n4, min(start + span, rp.n4), SPANS);
  // four accumulators so consecutive loads do not wait on one add chain
  var a = vec4f(0.0);
  var b = vec4f(0.0);
  var c = vec4f(0.0);
  var d = vec4f(0.0);
  var i = start;
  for (; i + 3u * stride < end; i += 4u * stride) {
    a += src[i];
    b += src[i + stride];
    c += src[i + 2u * stride];
    d += src[i + 3u * stride];
  }
  for (; i < end; i += stride) { a += src[i]; }
  let s = (a + b) + (c + d);
  out[gid.x] = (s.x + s.y) + (s.z + s.w);
}

// Eight independent vec4 multiply-add chains per thread (32 scalar chains: enough to hide FMA
// latency); every thread writes its result so nothing is dead code. 64 flops per trip.
@compute @workgroup_size(WG)
fn fma_chains(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * WG;
  let m = vec4f(rp.mul);
  let c = vec4f(rp.add);
  var v0 = vec4f(f32(t) * 1e-7) + vec4f(0.0, 0.1, 0.2, 0.3);
  var v1 = v0 + 0.01;
  var v2 = v0 + 0.02;
  var v3 = v0 + 0.03;
  var v4 = v0 + 0.04;
  var v5 = v0 + 0.05;
  var v6 = v0 + 0.06;
  var v7 = v0 + 0.07;
  for (var i = 0u; i < rp.iters; i++) {
    v0 = v0 * m + c;
    v1 = v1 * m + c;
    v2 = v2 * m + c;
    v3 = v3 * m + c;
    v4 = v4 * m + c;
    v5 = v5 * m + c;
    v6 = v6 * m + c;
    v7 = v7 * m + c;
  }
  let s = (v0 + v1) + (v2 + v3) + (v4 + v5) + (v6 + v7);
  out[t] = s.x + s.y + s.z + s.w;
}
