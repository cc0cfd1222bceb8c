// Activation quantization, as llama.cpp's CPU backend does before every dot product with a
// quantized weight (ggml's vec_dot_type; reference/act-quant.ts): each block of BLOCK values of
// a row becomes q * d, q an int8, written as f32 for the matmul that follows.
//  KIND 0, q8_0 (Q8_1 has the same values): BLOCK 32, d = amax / 127 kept as f16, q = round(x / d)
//  KIND 1, q8_K: BLOCK 256, iscale = -127 / max (max: the signed value of largest magnitude),
//          q = min(127, round(iscale * x)), d = 1 / iscale kept as f32
// One invocation per block, no barriers; rows = step.tokens, `cols` floats apart in x and y.

struct Params {
  cols: u32,    // floats per row
  blocks: u32,  // blocks per row (cols / BLOCK)
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

override BLOCK: u32 = 32u;
override KIND: u32 = 0u;
// q8_0 only: round q toward zero, as ggml's wasm SIMD build does
override TRUNC: bool = false;

// f32 -> nearest f16 (ties to even) -> f32, subnormal halves included (quantizeToF16 may flush
// them); |v| stays far below the f16 overflow for activations
fn round_f16(v: f32) -> f32 {
  if (abs(v) < 6.103515625e-05) { return round(v * 16777216.0) * 5.9604644775390625e-08; }
  let b = bitcast<u32>(v);
  return bitcast<f32>((b + 0xfffu + ((b >> 13u) & 1u)) & 0xffffe000u);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.x + wg.y * 65535u) * 64u + lid;
  if (i >= step.tokens * p.blocks) { return; }
  let base = (i / p.blocks) * p.cols + (i % p.blocks) * BLOCK;
  var amax = 0.0;
  var mx = 0.0;
  for (var j = 0u; j < BLOCK; j++) {
    let v = x[base + j];
    if (abs(v) > amax) { amax = abs(v); mx = v; }
  }
  if (KIND == 0u) {
    let d = div(amax, 127.0);
    let id = select(0.0, div(1.0, d), d != 0.0);
    let dh = round_f16(d);
    for (var j = 0u; j < BLOCK; j++) {
      let s = x[base + j] * id;
      y[base + j] = select(round(s), trunc(s), TRUNC) * dh;
    }
  } else {
    if (amax == 0.0) {
      for (var j = 0u; j < BLOCK; j++) { y[base + j] = 0.0; }
      return;
    }
    let iscale = div(-127.0, mx);
    let d = div(1.0, iscale);
    for (var j = 0u; j < BLOCK; j++) { y[base + j] = min(127.0, round(iscale * x[base + j])) * d; }
  }
}

// Packed 8-bit activations for the integer dot products (matmul_gemv_i8.wgsl): the GEMV's row,
// tokens - 1, each block of 32 as 8 words of int8 q = round(x * (1 / d)), d = amax / 127 kept
// as f32 (no f16 rounding: the activations lose only their own 8-bit step), and per block
// (d, d * sum(q)), the sum for the formats' mins. One invocation per block. Needs int8x4.wgsl.
@group(0) @binding(4) var<storage, read_write> xq: array<u32>;
@group(0) @binding(5) var<storage, read_write> xd: array<vec2f>;

@compute @workgroup_size(64)
fn pack_q8(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = (wg.x + wg.y * 65535u) * 64u + lid;
  if (b >= p.blocks) { return; }
  let base = (step.tokens - 1u) * p.cols + b * 32u;
  var amax = 0.0;
  for (var j = 0u; j < 32u; j++) { amax = max(amax, abs(x[base + j])); }
  let d = div(amax, 127.0);
  let id = select(0.0, div(1.0, d), d != 0.0);
  var sum = 0.0;
  for (var w = 0u; w < 8u; w++) {
    let at = base + w * 4u;
    let q = round(vec4f(x[at], x[at + 1u], x[at + 2u], x[at + 3u]) * id);
    sum += q.x + q.y + q.z + q.w;
    xq[b * 8u + w] = pack_i8x4(q);
  }
  xd[b] = vec2f(d, d * sum);
}
