// Flash attention for prefill (step.tokens > 1). One workgroup per (tile of BQ queries, query head).
// Each query row belongs to TPR adjacent threads; a thread keeps its share of the row's q and output,
// up to 4 vec4s, in registers, so neither Q nor a score matrix ever lives in memory. Per tile of BK keys
// the threads publish partial dot products, one barrier, then every thread of a row sums them into the
// same scores and runs the online softmax (running max m, running sum l) for its share of the output.
// K and V are read straight from the cache: all rows of the workgroup read the same keys at once, which
// caches serve, and it saves the barriers of staging them (costly on CPU drivers).

override TPR: u32 = 4u;          // threads per query row
override NV: u32 = 4u;           // vec4s of a row each thread owns: ceil(DV / TPR) <= 4
override BK: u32 = 16u;          // keys per tile, <= MAX_BK
override BQ: u32 = WG / TPR;     // query rows per workgroup
const MAX_BK = 32u;

// A thread's share of a row: columns lane, lane + TPR, lane + 2 TPR, lane + 3 TPR (in vec4s).
// Four named vectors rather than an array: CPU drivers keep loop-indexed arrays in memory.
struct Share { a: vec4f, b: vec4f, c: vec4f, d: vec4f }

fn share_load(buf_base: u32, lane: u32, scale: f32) -> Share {
  var s = Share(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
  if (lane < DV) { s.a = q[buf_base + lane] * scale; }
  if (NV > 1u && lane + TPR < DV) { s.b = q[buf_base + lane + TPR] * scale; }
  if (NV > 2u && lane + 2u * TPR < DV) { s.c = q[buf_base + lane + 2u * TPR] * scale; }
  if (NV > 3u && lane + 3u * TPR < DV) { s.d = q[buf_base + lane + 3u * TPR] * scale; }
  return s;
}

fn share_dot_k(s: Share, row: u32, lane: u32) -> f32 {
  var r = 0.0;
  if (lane < DV) { r += dot(s.a, k_cache[row + lane]); }
  if (NV > 1u && lane + TPR < DV) { r += dot(s.b, k_cache[row + lane + TPR]); }
  if (NV > 2u && lane + 2u * TPR < DV) { r += dot(s.c, k_cache[row + lane + 2u * TPR]); }
  if (NV > 3u && lane + 3u * TPR < DV) { r += dot(s.d, k_cache[row + lane + 3u * TPR]); }
  return r;
}

fn share_add_v(s: Share, p: f32, row: u32, lane: u32) -> Share {
  var r = s;
  if (lane < DV) { r.a += p * v_cache[row + lane]; }
  if (NV > 1u && lane + TPR < DV) { r.b += p * v_cache[row + lane + TPR]; }
  if (NV > 2u && lane + 2u * TPR < DV) { r.c += p * v_cache[row + lane + 2u * TPR]; }
  if (NV > 3u && lane + 3u * TPR < DV) { r.d += p * v_cache[row + lane + 3u * TPR]; }
  return r;
}

fn share_store(s: Share, row: u32, lane: u32) {
  if (lane < DV) { out[row + lane] = s.a; }
  if (NV > 1u && lane + TPR < DV) { out[row + lane + TPR] = s.b; }
  if (NV > 2u && lane + 2u * TPR < DV) { out[row + lane + 2u * TPR] = s.c; }
  if (NV > 3u && lane + 3u * TPR < DV) { out[row + lane + 3u * TPR] = s.d; }
}

fn share_scale(s: Share, x: f32) -> Share {
  return Share(s.a * x, s.b * x, s.c * x, s.d * x);
}

// Partial dot products, double-buffered so one barrier per tile suffices: [2][BQ][BK + 1][TPR].
// The +1 key of padding per row puts the TPR lanes of different rows in different memory banks.
override PART_ROW: u32 = (BK + 1u) * TPR;
var<workgroup> part: array<f32, 2u * BQ * (BK + 1u) * TPR>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t0 = wg.x * BQ;
  if (t0 >= step.tokens) { return; }
  let h = wg.y;
  let kv_base = (h / p.group) * p.max_ctx;
  let row = lid / TPR;
  let lane = lid % TPR;
  let t_last = min(t0 + BQ, step.tokens) - 1u;
  // Rows past the last token shadow it (in bounds, never written): the tile needs no special case.
  let t = min(t0 + row, t_last);
  let q_pos = step.pos + t;
  // Causal skip: no query of this tile sees keys past its last query's position.
  let kv_end = step.pos + t_last + 1u;
  let q_row = (t * p.n_heads + h) * DV;

  let qr = share_load(q_row, lane, p.scale);
  var o = Share(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
  var m = NEG_BIG;
  var l = 0.0;
  var buf = 0u;
  for (var k0 = 0u; k0 < kv_end; k0 += BK) {
    let n = min(BK, kv_end - k0);
    let mine = buf * BQ * PART_ROW + row * PART_ROW;
    for (var j = 0u; j < BK; j++) {
      var s = 0.0;
      if (j < n) { s = share_dot_k(qr, (kv_base + k0 + j) * DV, lane); }
      part[mine + j * TPR + lane] = s;
    }
    workgroupBarrier();

    // Keys this row may see in this tile: 0 for rows wholly before it, fewer on the diagonal.
    let n_row = select(0u, min(n, q_pos + 1u - k0), q_pos >= k0);
    var sc: array<f32, MAX_BK>;
    var m_new = m;
    for (var j = 0u; j < n_row; j++) {
      var s = 0.0;
      for (var r = 0u; r < TPR; r++) { s += part[mine + j * TPR + r]; }
      sc[j] = s;
      m_new = max(m_new, s);
    }
    let alpha = exp2(m - m_new);
    l *= alpha;
    o = share_scale(o, alpha);
    for (var j = 0u; j < n_row; j++) {
      let pj = exp2(sc[j] - m_new);
      l += pj;
      o = share_add_v(o, pj, (kv_base + k0 + j) * DV, lane);
    }
    m = m_new;
    buf ^= 1u;
  }

  if (t0 + row > t_last) { return; }
  share_store(share_scale(o, 1.0 / l), q_row, lane);
}
