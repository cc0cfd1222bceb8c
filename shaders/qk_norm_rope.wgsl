// Qwen3's and Gemma 3's per-head RMSNorm of q and k, then RoPE, in one launch: one workgroup per
// head of a token, the token's q heads first, then its k heads; q is written normed and rotated
// to qn, k to kn (the KV append copies kn into the cache). Elements past rotary_dim are normed
// only. The same arithmetic as rmsnorm.wgsl then rope.wgsl. Needs common.wgsl, rope_math.wgsl
// and reduce_sum.wgsl (WG) before it.

struct Params {
  n_heads: u32,
  n_kv_heads: u32,
  head_dim: u32,
  half_rot: u32,  // rotary_dim / 2
  eps: f32,
}

override INTERLEAVED: bool = false;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> inv_freq: array<f32>;
@group(0) @binding(3) var<storage, read> q: array<f32>;   // [tokens, n_heads, head_dim]
@group(0) @binding(4) var<storage, read> k: array<f32>;   // [tokens, n_kv_heads, head_dim]
@group(0) @binding(5) var<storage, read> q_norm: array<f32>;
@group(0) @binding(6) var<storage, read> k_norm: array<f32>;
@group(0) @binding(7) var<storage, read_write> qn: array<f32>;
@group(0) @binding(8) var<storage, read_write> kn: array<f32>;

fn raw(is_q: bool, at: u32) -> f32 {
  if (is_q) { return q[at]; }
  return k[at];
}

// Element i of the head at `base`, normed.
fn normed(is_q: bool, base: u32, i: u32, inv: f32) -> f32 {
  if (is_q) { return q[base + i] * inv * q_norm[i]; }
  return k[base + i] * inv * k_norm[i];
}

fn store(is_q: bool, at: u32, v: f32) {
  if (is_q) { qn[at] = v; } else { kn[at] = v; }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let per_token = p.n_heads + p.n_kv_heads;
  let idx = wg.x + wg.y * 65535u;
  let t = idx / per_token;
  if (t >= step.tokens) { return; }
  let h = idx % per_token;
  let is_q = h < p.n_heads;
  let base = select(t * p.n_kv_heads + h - p.n_heads, t * p.n_heads + h, is_q) * p.head_dim;
  var ss = 0.0;
  for (var i = lid; i < p.head_dim; i += WG) { let v = raw(is_q, base + i); ss += v * v; }
  let inv = inverseSqrt(reduce_sum(lid, ss) / f32(p.head_dim) + p.eps);
  let pos = f32(step.pos + t);
  // pair j < half_rot rotates its two elements; past them, pair j holds elements 2j, 2j + 1
  // (in both conventions the rotated pairs cover exactly the dims below rotary_dim)
  for (var j = lid; j < p.head_dim / 2u; j += WG) {
    if (j < p.half_rot) {
      let e = rope_elems(j, p.half_rot, INTERLEAVED);
      let y = rotate(normed(is_q, base, e.x, inv), normed(is_q, base, e.y, inv), cos_sin(pos * inv_freq[j]));
      store(is_q, base + e.x, y.x);
      store(is_q, base + e.y, y.y);
    } else {
      store(is_q, base + 2u * j, normed(is_q, base, 2u * j, inv));
      store(is_q, base + 2u * j + 1u, normed(is_q, base, 2u * j + 1u, inv));
    }
  }
}
