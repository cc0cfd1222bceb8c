// Rotary position embedding. Pair j (j < rotary_dim / 2) of a head is rotated by the angle
// pos * inv_freq[j]; which two elements form pair j depends on the convention:
//   half (Hugging Face rotate_half):         (j, j + rotary_dim / 2)
//   interleaved (GGUF, llama.cpp, llama2.c): (2j, 2j + 1)
// Elements at or beyond rotary_dim are not rotated (partial rotary).
// shaders/kv_append.wgsl builds on the declarations here.

override INTERLEAVED: bool = false;

struct Params {
  heads: u32,     // heads per token
  head_dim: u32,
  half_rot: u32,  // rotary_dim / 2
  max_ctx: u32,   // KV cache positions per head (kv_append only)
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> inv_freq: array<f32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;

// pi/2 split so that q * PI_2_HI is exact in f32 for q < 2^16 (PI_2_HI has 8 significant bits).
const PI_2_HI: f32 = 1.5703125;
const PI_2_LO: f32 = 4.8382679489661923e-4;

// (cos, sin) of a f32 angle to about 1e-7. WGSL bounds the builtins' error only by 2^-11 on
// [-pi, pi] (SwiftShader is that coarse), too loose to compare RoPE against a reference, so
// reduce to r in [-pi/4, pi/4] around a multiple q of pi/2 and use Taylor series, whose
// truncation errors there are below 3e-8.
fn cos_sin(angle: f32) -> vec2f {
  let q = round(angle * 0.63661977236758134);
  let r = (angle - q * PI_2_HI) - q * PI_2_LO;
  let r2 = r * r;
  let s = r * (1.0 + r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0)))));
  let c = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0))));
  switch (i32(q) & 3) {
    case 0: { return vec2f(c, s); }
    case 1: { return vec2f(-s, c); }
    case 2: { return vec2f(-c, -s); }
    default: { return vec2f(s, -c); }
  }
}

struct RopePair {
  i0: u32,     // offsets of the two elements within the head
  i1: u32,
  cs: vec2f,   // cos, sin of the angle
}

fn rope_pair(j: u32, pos: u32) -> RopePair {
  // the angle is rounded to f32 as Hugging Face computes it: float position times float inv_freq
  let angle = f32(pos) * inv_freq[j];
  var pr: RopePair;
  if (INTERLEAVED) {
    pr.i0 = 2u * j;
    pr.i1 = 2u * j + 1u;
  } else {
    pr.i0 = j;
    pr.i1 = j + p.half_rot;
  }
  pr.cs = cos_sin(angle);
  return pr;
}

fn rotate(a: f32, b: f32, cs: vec2f) -> vec2f {
  return vec2f(a * cs.x - b * cs.y, a * cs.y + b * cs.x);
}

// In place on x [tokens, heads, head_dim]; one invocation per rotated pair.
@compute @workgroup_size(64)
fn rope_main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = (wg.x + wg.y * 65535u) * 64u + lid;
  let j = idx % p.half_rot;
  let row = idx / p.half_rot;  // token * heads + head
  let t = row / p.heads;
  if (t >= step.tokens) { return; }
  let pr = rope_pair(j, step.pos + t);
  let base = row * p.head_dim;
  let y = rotate(x[base + pr.i0], x[base + pr.i1], pr.cs);
  x[base + pr.i0] = y.x;
  x[base + pr.i1] = y.y;
}
