// Prefill on CPU drivers (SwiftShader, llvmpipe): each thread takes four query rows of a head
// (consecutive tokens), so every K and V value it loads meets four queries. There a load from a
// computed address is a gather across the SIMD lanes, about ten multiply-adds' time; with one row a
// thread (attention_prefill_row.wgsl) each loaded value met one. The four rows' scores, running
// maxima and sums are the components of vec4s. The TPR lanes of a row combine their partial dot
// products with subgroup shuffles (TPR <= 4; subgroup_order, attention_enable_subgroups.wgsl); a
// lane may own up to 16 vec4s of a row (head size 256 over 4 lanes).
// BQ = 4 * WG / TPR. Needs attention_prefill.wgsl (Share) before it.

// The four rows' shares, eight vec4s of each row at a time: a lane owning more (NV > 8, head size 256
// over 4 lanes) keeps a second Rows for slots 8 .. 15.
struct Rows { a: Share, b: Share, c: Share, d: Share }

// Whether a lane owns slots past the first eight.
override WIDE: bool = NV > 8u;

fn rows_load_q(q_at: vec4u, lane: u32, f: u32) -> Rows {
  return Rows(share_load_q(q_at.x, lane, p.scale, f), share_load_q(q_at.y, lane, p.scale, f), share_load_q(q_at.z, lane, p.scale, f), share_load_q(q_at.w, lane, p.scale, f));
}

fn rows_store(o: Rows, inv: vec4f, q_at: vec4u, n: u32, lane: u32, f: u32) {
  share_store_out(share_scale(o.a, inv.x), q_at.x, lane, f);
  if (n > 1u) { share_store_out(share_scale(o.b, inv.y), q_at.y, lane, f); }
  if (n > 2u) { share_store_out(share_scale(o.c, inv.z), q_at.z, lane, f); }
  if (n > 3u) { share_store_out(share_scale(o.d, inv.w), q_at.w, lane, f); }
}

// Four rows' dot products with one vec4 of a key.
fn dots(k: vec4f, a: vec4f, b: vec4f, c: vec4f, d: vec4f) -> vec4f {
  return vec4f(dot(a, k), dot(b, k), dot(c, k), dot(d, k));
}

// This lane's part of each row's q . k for the key whose row starts at `at`, over slots f .. f + 7 of its
// share: each k vec4 loaded once.
fn rows_dot_k(q: Rows, at: u32, lane: u32, f: u32) -> vec4f {
  var r = vec4f(0.0);
  if (has(f + 0u, lane)) { r += dots(load_k(at + lane + f * TPR), q.a.a, q.b.a, q.c.a, q.d.a); }
  if (has(f + 1u, lane)) { r += dots(load_k(at + lane + (f + 1u) * TPR), q.a.b, q.b.b, q.c.b, q.d.b); }
  if (has(f + 2u, lane)) { r += dots(load_k(at + lane + (f + 2u) * TPR), q.a.c, q.b.c, q.c.c, q.d.c); }
  if (has(f + 3u, lane)) { r += dots(load_k(at + lane + (f + 3u) * TPR), q.a.d, q.b.d, q.c.d, q.d.d); }
  if (has(f + 4u, lane)) { r += dots(load_k(at + lane + (f + 4u) * TPR), q.a.e, q.b.e, q.c.e, q.d.e); }
  if (has(f + 5u, lane)) { r += dots(load_k(at + lane + (f + 5u) * TPR), q.a.f, q.b.f, q.c.f, q.d.f); }
  if (has(f + 6u, lane)) { r += dots(load_k(at + lane + (f + 6u) * TPR), q.a.g, q.b.g, q.c.g, q.d.g); }
  if (has(f + 7u, lane)) { r += dots(load_k(at + lane + (f + 7u) * TPR), q.a.h, q.b.h, q.c.h, q.d.h); }
  return r;
}

// Each row's share of the output (slots f .. f + 7) plus its weight (a component of pw) times the value
// row at `at`: each v vec4 loaded once.
fn rows_add_v(o: Rows, pw: vec4f, at: u32, lane: u32, f: u32) -> Rows {
  var r = o;
  if (has(f + 0u, lane)) { let v = load_v(at + lane + f * TPR); r.a.a += pw.x * v; r.b.a += pw.y * v; r.c.a += pw.z * v; r.d.a += pw.w * v; }
  if (has(f + 1u, lane)) { let v = load_v(at + lane + (f + 1u) * TPR); r.a.b += pw.x * v; r.b.b += pw.y * v; r.c.b += pw.z * v; r.d.b += pw.w * v; }
  if (has(f + 2u, lane)) { let v = load_v(at + lane + (f + 2u) * TPR); r.a.c += pw.x * v; r.b.c += pw.y * v; r.c.c += pw.z * v; r.d.c += pw.w * v; }
  if (has(f + 3u, lane)) { let v = load_v(at + lane + (f + 3u) * TPR); r.a.d += pw.x * v; r.b.d += pw.y * v; r.c.d += pw.z * v; r.d.d += pw.w * v; }
  if (has(f + 4u, lane)) { let v = load_v(at + lane + (f + 4u) * TPR); r.a.e += pw.x * v; r.b.e += pw.y * v; r.c.e += pw.z * v; r.d.e += pw.w * v; }
  if (has(f + 5u, lane)) { let v = load_v(at + lane + (f + 5u) * TPR); r.a.f += pw.x * v; r.b.f += pw.y * v; r.c.f += pw.z * v; r.d.f += pw.w * v; }
  if (has(f + 6u, lane)) { let v = load_v(at + lane + (f + 6u) * TPR); r.a.g += pw.x * v; r.b.g += pw.y * v; r.c.g += pw.z * v; r.d.g += pw.w * v; }
  if (has(f + 7u, lane)) { let v = load_v(at + lane + (f + 7u) * TPR); r.a.h += pw.x * v; r.b.h += pw.y * v; r.c.h += pw.z * v; r.d.h += pw.w * v; }
  return r;
}

fn rows_scale(o: Rows, x: vec4f) -> Rows {
  return Rows(share_scale(o.a, x.x), share_scale(o.b, x.y), share_scale(o.c, x.z), share_scale(o.d, x.w));
}

// Whether key j of the tile is each row's: j_lo <= j < n_row.
fn row_key(j: u32, j_lo: vec4u, n_row: vec4u) -> vec4<bool> {
  return (vec4u(j) >= j_lo) & (vec4u(j) < n_row);
}

// Query rows t0 + 4 * slot .. + 3 of head h (those past the step's last token shadow it: computed, never
// stored); this thread is lane `lane` of them. The same steps as attend, four rows at once.
fn attend_rows(t0: u32, h: u32, slot: u32, lane: u32) {
  let kv_base = (h / p.group) * p.max_ctx;
  let t_last = min(t0 + BQ, step.tokens) - 1u;
  let first = t0 + 4u * slot;
  // A slot wholly past the step's end loads nothing (it may not leave early: its subgroup shuffles on).
  let live = first < step.tokens;
  let t = min(vec4u(first) + vec4u(0u, 1u, 2u, 3u), vec4u(t_last));
  let q_pos = vec4u(step.pos) + t;
  // Causal skip: no query of this tile sees keys past its last query's position.
  let kv_end = step.pos + t_last + 1u;
  // Sliding-window skip: none sees keys before its first query's window (0 without a window).
  let kv_start = window_start(step.pos + t0);
  // Each row's first visible key.
  let lo = vec4u(window_start(q_pos.x), window_start(q_pos.y), window_start(q_pos.z), window_start(q_pos.w));
  let q_at = (t * p.n_heads + h) * DV;

  let zero = Rows(SHARE_ZERO, SHARE_ZERO, SHARE_ZERO, SHARE_ZERO);
  let qr = rows_load_q(q_at, lane, 0u);
  var qw = zero;
  if (WIDE) { qw = rows_load_q(q_at, lane, 8u); }
  var o = zero;
  var ow = zero;
  var m = vec4f(NEG_BIG);
  var l = vec4f(0.0);
  for (var k0 = kv_start; k0 < kv_end; k0 += BK) {
    let n = min(BK, kv_end - k0);
    var sc: array<vec4f, MAX_BK>;
    for (var j = 0u; j < BK; j++) {
      var s = vec4f(0.0);
      if (live && j < n) {
        s = rows_dot_k(qr, (kv_base + k0 + j) * DV, lane, 0u);
        if (WIDE) { s += rows_dot_k(qw, (kv_base + k0 + j) * DV, lane, 8u); }
      }
      if (TPR > 1u) { s += subgroupShuffleXor(s, 1u); }
      if (TPR > 2u) { s += subgroupShuffleXor(s, 2u); }
      sc[j] = s;
    }
    // Keys j_lo <= j < n_row of this tile are a row's (see attend).
    let n_row = select(vec4u(0u), min(vec4u(n), q_pos + 1u - k0), q_pos >= vec4u(k0));
    let j_lo = select(vec4u(0u), lo - k0, lo > vec4u(k0));
    var m_new = m;
    for (var j = 0u; j < BK; j++) {
      m_new = select(m_new, max(m_new, sc[j]), row_key(j, j_lo, n_row));
    }
    let alpha = exp2(m - m_new);
    l *= alpha;
    o = rows_scale(o, alpha);
    if (WIDE) { ow = rows_scale(ow, alpha); }
    for (var j = 0u; j < BK; j++) {
      let mine = row_key(j, j_lo, n_row);
      if (live && any(mine)) {
        let pj = select(vec4f(0.0), exp2(sc[j] - m_new), mine);
        l += pj;
        o = rows_add_v(o, pj, (kv_base + k0 + j) * DV, lane, 0u);
        if (WIDE) { ow = rows_add_v(ow, pj, (kv_base + k0 + j) * DV, lane, 8u); }
      }
    }
    m = m_new;
  }
  if (!live) { return; }
  let inv = 1.0 / l;
  let rows = t_last + 1u - first; // rows of the four to store (more than 4 means all)
  rows_store(o, inv, q_at, rows, lane, 0u);
  if (WIDE) { rows_store(ow, inv, q_at, rows, lane, 8u); }
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) sg_lane: u32,
  @builtin(subgroup_size) sg_size: u32,
) {
  let t0 = wg.x * BQ;
  if (t0 >= step.tokens) { return; }
  let i = subgroup_order(lid, sg_lane, sg_size);
  attend_rows(t0, wg.y, i / TPR, i % TPR);
}
