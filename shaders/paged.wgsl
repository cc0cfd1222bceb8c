// Batched decoding over the paged KV pool (src/models/kv-pool.ts): row r of a submit is the next
// token of its own sequence, at its own position, with its own blocks. Needs shaders/rope.wgsl
// before it (Params with head_dim and half_rot, inv_freq, the rotated buffer x = q, rope_pair).
//
// The block table (binding 9) holds per row 1 + max_blocks words: the row's position, then the
// ids of its blocks in position order. The pools are [blocks, kv_heads, block_size, head_dim] f32.

struct Paged {
  n_heads: u32,
  kv_heads: u32,
  block_size: u32,
  max_blocks: u32,
  window: u32,     // sliding window (0: none)
  scale: f32,      // softmax scale
  max_ctx: u32,    // scores kept per (row, head) in scratch: max_blocks * block_size
  _pad: u32,
}

@group(0) @binding(4) var<storage, read> k: array<f32>;
@group(0) @binding(5) var<storage, read> v: array<f32>;
@group(0) @binding(6) var<storage, read_write> k_pool: array<f32>;
@group(0) @binding(7) var<storage, read_write> v_pool: array<f32>;
@group(0) @binding(8) var<uniform> pp: Paged;
@group(0) @binding(9) var<storage, read> table: array<u32>;

fn row_pos(r: u32) -> u32 {
  return table[r * (1u + pp.max_blocks)];
}

// Float offset of position `pos` of kv head g in row r's sequence.
fn pool_at(r: u32, g: u32, pos: u32) -> u32 {
  let block = table[r * (1u + pp.max_blocks) + 1u + pos / pp.block_size];
  return ((block * pp.kv_heads + g) * pp.block_size + pos % pp.block_size) * p.head_dim;
}

// RoPE on q in place, each row at its own position: one invocation per rotated pair of a q head
// (a launch of its own: q shares its buffer with k and v, which paged_append reads).
@compute @workgroup_size(64)
fn paged_rope_q(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = (wg.x + wg.y * 65535u) * 64u + lid;
  let j = idx % p.half_rot;
  let rh = idx / p.half_rot;  // row * n_heads + head
  let r = rh / pp.n_heads;
  if (r >= step.tokens) { return; }
  let base = rh * p.head_dim;
  let pr = rope_pair(j, row_pos(r));
  let y = rotate(x[base + pr.i0], x[base + pr.i1], pr.cs);
  x[base + pr.i0] = y.x;
  x[base + pr.i1] = y.y;
}

// RoPE on k into the pool and v copied into the pool, each row at its own position into its own
// block: one invocation per element pair (2j, 2j + 1) of a kv head of a row (as kv_append.wgsl).
@compute @workgroup_size(64)
fn paged_append(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = (wg.x + wg.y * 65535u) * 64u + lid;
  let half_dim = p.head_dim / 2u;
  let j = idx % half_dim;
  let rg = idx / half_dim;  // row * kv_heads + kv head
  let r = rg / pp.kv_heads;
  let g = rg % pp.kv_heads;
  if (r >= step.tokens) { return; }
  let pos = row_pos(r);
  let src = rg * p.head_dim;
  let dst = pool_at(r, g, pos);
  if (j < p.half_rot) {
    let pr = rope_pair(j, pos);
    let y = rotate(k[src + pr.i0], k[src + pr.i1], pr.cs);
    k_pool[dst + pr.i0] = y.x;
    k_pool[dst + pr.i1] = y.y;
  } else {
    k_pool[dst + 2u * j] = k[src + 2u * j];
    k_pool[dst + 2u * j + 1u] = k[src + 2u * j + 1u];
  }
  v_pool[dst + 2u * j] = v[src + 2u * j];
  v_pool[dst + 2u * j + 1u] = v[src + 2u * j + 1u];
}

@group(0) @binding(10) var<storage, read_write> att_out: array<f32>;
@group(0) @binding(11) var<storage, read_write> scores: array<f32>;

const AWG: u32 = 64u;
var<workgroup> red: array<f32, AWG>;

// Workgroup reductions by one thread after one barrier: three barriers each instead of a tree's
// seven (barriers are what a CPU driver pays most for; 64 additions are nothing).
fn reduce_max(lid: u32, x: f32) -> f32 {
  red[lid] = x;
  workgroupBarrier();
  if (lid == 0u) {
    var m = red[0];
    for (var i = 1u; i < AWG; i++) { m = max(m, red[i]); }
    red[0] = m;
  }
  workgroupBarrier();
  let m = red[0];
  workgroupBarrier();
  return m;
}

fn reduce_sum(lid: u32, x: f32) -> f32 {
  red[lid] = x;
  workgroupBarrier();
  if (lid == 0u) {
    var m = red[0];
    for (var i = 1u; i < AWG; i++) { m += red[i]; }
    red[0] = m;
  }
  workgroupBarrier();
  let m = red[0];
  workgroupBarrier();
  return m;
}

// Decode attention of row r (workgroup y), head h (workgroup x) over its sequence's positions
// 0..pos (within the window), through its block table: scores, softmax, weighted sum of V.
// (GQA by head mapping as attention_decode.wgsl; no split over the length: a row is one query.)
@compute @workgroup_size(AWG)
fn paged_attention(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let h = wg.x;
  let r = wg.y;
  if (r >= step.tokens) { return; }
  let g = h / (pp.n_heads / pp.kv_heads);
  let end = row_pos(r) + 1u;
  var start = 0u;
  if (pp.window > 0u && end > pp.window) { start = end - pp.window; }
  let qo = (r * pp.n_heads + h) * p.head_dim;
  let so = (r * pp.n_heads + h) * pp.max_ctx;
  var m = -3.0e38;
  for (var t = start + lid; t < end; t += AWG) {
    let ko = pool_at(r, g, t);
    var s = 0.0;
    for (var i = 0u; i < p.head_dim; i++) { s += x[qo + i] * k_pool[ko + i]; }
    s *= pp.scale;
    scores[so + t] = s;
    m = max(m, s);
  }
  m = reduce_max(lid, m);
  var sum = 0.0;
  for (var t = start + lid; t < end; t += AWG) {
    let e = exp(scores[so + t] - m);
    scores[so + t] = e;
    sum += e;
  }
  sum = reduce_sum(lid, sum);
  storageBarrier();
  for (var i = lid; i < p.head_dim; i += AWG) {
    var acc = 0.0;
    for (var t = start; t < end; t++) { acc += scores[so + t] * v_pool[pool_at(r, g, t) + i]; }
    att_out[qo + i] = acc / sum;
  }
}
