// Rotary position embedding. Pair j (j < rotary_dim / 2) of a head is rotated by the angle
// pos * inv_freq[j]; which two elements form pair j depends on the convention:
//   half (Hugging Face rotate_half):         (j, j + rotary_dim / 2)
//   interleaved (GGUF, llama.cpp, llama2.c): (2j, 2j + 1)
// Elements at or beyond rotary_dim are not rotated (partial rotary).
// shaders/kv_append.wgsl builds on the declarations here; both need shaders/rope_math.wgsl before them.

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

struct RopePair {
  i0: u32,     // offsets of the two elements within the head
  i1: u32,
  cs: vec2f,   // cos, sin of the angle
}

fn rope_pair(j: u32, pos: u32) -> RopePair {
  // the angle is rounded to f32 as Hugging Face computes it: float position times float inv_freq
  let angle = f32(pos) * inv_freq[j];
  let e = rope_elems(j, p.half_rot, INTERLEAVED);
  return RopePair(e.x, e.y, cos_sin(angle));
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
