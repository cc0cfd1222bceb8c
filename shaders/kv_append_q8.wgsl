// q8 caches for kv_append.wgsl (KvCache format 'q8'): every block of BLOCK values of a head's row
// as int8, four per u32 (words in the order of the values, [kv_heads, max_ctx, head_dim / 4]), and
// one f32 scale per block (max |x| / 127, block_scale), all the scales after all the values, from word
// KV_SCALES on. One invocation quantizes one block of one head, of K and of V. Needs int8x4.wgsl.

@group(0) @binding(6) var<storage, read_write> k_cache: array<u32>;
@group(0) @binding(7) var<storage, read_write> v_cache: array<u32>;

override BLOCK: u32 = 32u;   // values per scale: a multiple of 4 dividing head_dim, at most 32
override KV_SCALES: u32 = 0u;

struct QSlot {
  head: u32,   // start of the head in k, v
  d0: u32,     // first dim of the block
  dst: u32,    // the block's first value in the cache ([kv_heads, max_ctx, head_dim] order)
  pos: u32,
  ok: bool,
}

fn q_slot(idx: u32) -> QSlot {
  let blocks = p.head_dim / BLOCK;
  let row = idx / blocks;  // token * kv_heads + head
  let t = row / p.heads;
  var s: QSlot;
  s.d0 = (idx % blocks) * BLOCK;
  s.pos = step.pos + t;
  s.ok = t < step.tokens && s.pos < p.max_ctx;
  s.head = row * p.head_dim;
  s.dst = ((row % p.heads) * p.max_ctx + s.pos) * p.head_dim + s.d0;
  return s;
}

// Values as int8 times 1 / scale, rounded to nearest even and clamped to the int8 range.
fn quantize4(x: vec4f, inv: f32) -> u32 {
  return pack_i8x4(clamp(round(x * inv), vec4f(-127.0), vec4f(127.0)));
}

// max |x| / 127 rounded up to 17 significant bits (src/quant/kv-q8.ts, roundScale): every q * s is
// then exact, so a cache read out and written back by the CPU holds the same values.
fn block_scale(amax: f32) -> f32 {
  return bitcast<f32>((bitcast<u32>(div(amax, 127.0)) + 0x7fu) & 0xffffff80u);
}

fn inverse(scale: f32) -> f32 {
  return select(0.0, div(1.0, scale), scale > 0.0);
}

// The block's K values (rotated or not, by the entry point) are in kx.
fn append_q8(s: QSlot, kx: ptr<function, array<f32, 32>>) {
  var kmax = 0.0;
  var vmax = 0.0;
  for (var d = 0u; d < BLOCK; d++) {
    kmax = max(kmax, abs(kx[d]));
    vmax = max(vmax, abs(v[s.head + s.d0 + d]));
  }
  let ks = block_scale(kmax);
  let vs = block_scale(vmax);
  let ki = inverse(ks);
  let vi = inverse(vs);
  for (var d = 0u; d < BLOCK; d += 4u) {
    let at = s.head + s.d0 + d;
    let vx = vec4f(v[at], v[at + 1u], v[at + 2u], v[at + 3u]);
    k_cache[(s.dst + d) / 4u] = quantize4(vec4f(kx[d], kx[d + 1u], kx[d + 2u], kx[d + 3u]), ki);
    v_cache[(s.dst + d) / 4u] = quantize4(vx, vi);
  }
  k_cache[KV_SCALES + s.dst / BLOCK] = bitcast<u32>(ks);
  v_cache[KV_SCALES + s.dst / BLOCK] = bitcast<u32>(vs);
}

@compute @workgroup_size(64)
fn kv_append_copy(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let s = q_slot((wg.x + wg.y * 65535u) * 64u + lid);
  if (!s.ok) { return; }
  var kx: array<f32, 32>;
  for (var d = 0u; d < BLOCK; d++) { kx[d] = k[s.head + s.d0 + d]; }
  append_q8(s, &kx);
}

@compute @workgroup_size(64)
fn kv_append_rope(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let s = q_slot((wg.x + wg.y * 65535u) * 64u + lid);
  if (!s.ok) { return; }
  var kx: array<f32, 32>;
  for (var d = 0u; d < BLOCK; d++) { kx[d] = k_rotated(s.head, s.d0 + d, s.pos); }
  append_q8(s, &kx);
}
