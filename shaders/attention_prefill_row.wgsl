// One query row a thread (attention_prefill.wgsl): the GPU variant, with tile_scores from
// attention_prefill_wg.wgsl or attention_prefill_sg.wgsl after it.

// Query rows [t0, t0 + BQ) of head h; this thread is lane `lane` of row `row`.
// Every thread of the workgroup calls it, in uniform control flow: tile_scores may synchronize.
fn attend(t0: u32, h: u32, row: u32, lane: u32) {
  let kv_base = (h / p.group) * p.max_ctx;
  let t_last = min(t0 + BQ, step.tokens) - 1u;
  // Rows past the last token shadow it (in bounds, never written): the tile needs no special case.
  let t = min(t0 + row, t_last);
  let q_pos = step.pos + t;
  // Causal skip: no query of this tile sees keys past its last query's position.
  let kv_end = step.pos + t_last + 1u;
  // Sliding-window skip: none sees keys before its first query's window (0 without a window).
  let kv_start = window_start(step.pos + t0);
  // This row's first visible key.
  let lo = window_start(q_pos);
  let q_at = (t * p.n_heads + h) * DV;

  let qr = share_load_q(q_at, lane, p.scale, 0u);
  var o = SHARE_ZERO;
  var m = NEG_BIG;
  var l = 0.0;
  for (var k0 = kv_start; k0 < kv_end; k0 += BK) {
    let n = min(BK, kv_end - k0);
    let sc = tile_scores(qr, (kv_base + k0) * DV, n, row, lane);
    // Keys j_lo <= j < n_row of this tile are this row's: none for rows wholly before it, fewer on the
    // diagonal and, under a window, on its lower edge (j_lo is 0 without one).
    let n_row = select(0u, min(n, q_pos + 1u - k0), q_pos >= k0);
    let j_lo = select(0u, lo - k0, lo > k0);
    // Loops run to the constant BK (guarded) so that GPU compilers unroll them and keep sc in registers.
    var m_new = m;
    for (var j = 0u; j < BK; j++) {
      if (j >= j_lo && j < n_row) { m_new = max(m_new, sc[j]); }
    }
    let alpha = exp2(m - m_new);
    l *= alpha;
    o = share_scale(o, alpha);
    for (var j = 0u; j < BK; j++) {
      if (j >= j_lo && j < n_row) {
        let pj = exp2(sc[j] - m_new);
        l += pj;
        o = share_add_v(o, pj, (kv_base + k0 + j) * DV, lane, 0u);
      }
    }
    m = m_new;
  }
  if (t0 + row <= t_last) { share_store_out(share_scale(o, 1.0 / l), q_at, lane, 0u); }
}
