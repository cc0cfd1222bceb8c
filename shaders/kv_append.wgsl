// Append this step's K and V rows [tokens, kv_heads, head_dim] to the caches
// [kv_heads, max_ctx, head_dim] at positions step.pos + t. `kv_append_rope` rotates K on the
// way (RoPE fused into the append, so K makes one trip through memory).
// Needs shaders/rope.wgsl before it (Params, inv_freq, rope_pair, rotate); the caches and the entry
// points come after it, from kv_append_f32.wgsl, kv_append_f16.wgsl or kv_append_q8.wgsl.
// One invocation per element pair (2j, 2j + 1) of a head; the pair handles the rotation of
// rotary pair j when j < half_rot, and copies elements 2j, 2j + 1 otherwise (for the interleaved
// style those coincide; for rotate-half, pairs j < half_rot cover exactly dims < rotary_dim).

@group(0) @binding(4) var<storage, read> k: array<f32>;
@group(0) @binding(5) var<storage, read> v: array<f32>;

struct Slot {
  j: u32,
  src: u32,  // start of the head in k, v
  dst: u32,  // start of the head's row in the caches
  pos: u32,
  ok: bool,
}

fn slot(idx: u32) -> Slot {
  let half_dim = p.head_dim / 2u;
  var s: Slot;
  s.j = idx % half_dim;
  let row = idx / half_dim;  // token * kv_heads + head
  let t = row / p.heads;
  let h = row % p.heads;
  s.pos = step.pos + t;
  // past the cache's end nothing is written: the engine reports context overflow before this
  s.ok = t < step.tokens && s.pos < p.max_ctx;
  s.src = row * p.head_dim;
  s.dst = (h * p.max_ctx + s.pos) * p.head_dim;
  return s;
}

// k[src + d] after RoPE, as kv_append_rope computes it in f32 (for caches whose invocations
// write other elements than a rotary pair: f16 words, q8 blocks).
fn k_rotated(src: u32, d: u32, pos: u32) -> f32 {
  if (d >= 2u * p.half_rot) { return k[src + d]; }
  let j = select(d % p.half_rot, d / 2u, INTERLEAVED);
  let pr = rope_pair(j, pos);
  let y = rotate(k[src + pr.i0], k[src + pr.i1], pr.cs);
  return select(y.y, y.x, d == pr.i0);
}
