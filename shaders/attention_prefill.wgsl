// Flash attention for prefill (step.tokens > 1). One workgroup per (tile of BQ queries, query head).
// Each query row belongs to TPR adjacent threads; a thread keeps its strided share of the row's q and
// output in registers, so neither Q nor a score matrix ever lives in memory. Per tile of BK keys the
// threads publish partial dot products, one barrier, then every thread of a row sums them into the same
// scores and runs the online softmax (running max m, running sum l) for its share of the output.
// K and V are read straight from the cache: all rows of the workgroup read the same keys at once, which
// caches serve, and it saves the barriers of staging them (costly on CPU drivers).

override TPR: u32 = 4u;          // threads per query row; WG / TPR rows per workgroup
override NV: u32 = 8u;           // vec4s of a row each thread owns: ceil(DV / TPR) <= MAX_NV
override BK: u32 = 16u;          // keys per tile, <= MAX_BK
override BQ: u32 = WG / TPR;
const MAX_NV = 8u;
const MAX_BK = 32u;

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

  var qr: array<vec4f, MAX_NV>;
  var o: array<vec4f, MAX_NV>;
  let q_base = (t * p.n_heads + h) * DV;
  for (var i = 0u; i < NV; i++) {
    let c = lane + i * TPR;
    qr[i] = vec4f(0.0);
    o[i] = vec4f(0.0);
    if (c < DV) { qr[i] = q[q_base + c] * p.scale; }
  }

  var m = NEG_BIG;
  var l = 0.0;
  var buf = 0u;
  for (var k0 = 0u; k0 < kv_end; k0 += BK) {
    let n = min(BK, kv_end - k0);
    let mine = buf * BQ * PART_ROW + row * PART_ROW;
    for (var j = 0u; j < BK; j++) {
      var s = 0.0;
      if (j < n) {
        let kb = (kv_base + k0 + j) * DV;
        for (var i = 0u; i < NV; i++) {
          let c = lane + i * TPR;
          if (c < DV) { s += dot(qr[i], k_cache[kb + c]); }
        }
      }
      part[mine + j * TPR + lane] = s;
    }
    workgroupBarrier();

    // Keys this row may see in this tile: 0 for rows wholly before it, fewer on the diagonal.
    let n_row = select(0u, min(n, q_pos + 1u - k0), q_pos >= k0);
    var sc: array<f32, MAX_BK>;
    var m_new = m;
    for (var j = 0u; j < BK; j++) {
      var s = 0.0;
      for (var r = 0u; r < TPR; r++) { s += part[mine + j * TPR + r]; }
      sc[j] = s;
      if (j < n_row) { m_new = max(m_new, s); }
    }
    let alpha = exp2(m - m_new);
    l *= alpha;
    for (var i = 0u; i < NV; i++) { o[i] *= alpha; }
    for (var j = 0u; j < BK; j++) {
      if (j < n_row) {
        let pj = exp2(sc[j] - m_new);
        l += pj;
        let vb = (kv_base + k0 + j) * DV;
        for (var i = 0u; i < NV; i++) {
          let c = lane + i * TPR;
          if (c < DV) { o[i] += pj * v_cache[vb + c]; }
        }
      }
    }
    m = m_new;
    buf ^= 1u;
  }

  if (t0 + row > t_last) { return; }
  let inv = 1.0 / l;
  for (var i = 0u; i < NV; i++) {
    let c = lane + i * TPR;
    if (c < DV) { out[q_base + c] = o[i] * inv; }
  }
}
