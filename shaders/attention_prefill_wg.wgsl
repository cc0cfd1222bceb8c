// tile_scores through workgroup memory, for adapters without subgroups (and rows wider than a subgroup).
// The TPR threads of a row publish their partial dot products, one barrier, then each sums all of them.
// Double-buffered, so the next tile's writes never race this tile's reads: one barrier per tile.

// [2][BQ][BK + 1][TPR]; the +1 key of padding per row puts different rows' lanes in different banks.
override PART_ROW: u32 = (BK + 1u) * TPR;
var<workgroup> part: array<f32, 2u * BQ * (BK + 1u) * TPR>;
var<private> part_buf: u32 = 0u;

fn tile_scores(qr: Share, k_at: u32, n: u32, row: u32, lane: u32) -> array<f32, MAX_BK> {
  let mine = part_buf * BQ * PART_ROW + row * PART_ROW;
  for (var j = 0u; j < BK; j++) {
    var s = 0.0;
    if (j < n) { s = share_dot_k(qr, k_at + j * DV, lane, 0u); }
    part[mine + j * TPR + lane] = s;
  }
  workgroupBarrier();
  var sc: array<f32, MAX_BK>;
  for (var j = 0u; j < BK; j++) {
    var s = 0.0;
    if (j < n) {
      for (var r = 0u; r < TPR; r++) { s += part[mine + j * TPR + r]; }
    }
    sc[j] = s;
  }
  part_buf ^= 1u;
  return sc;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t0 = wg.x * BQ;
  if (t0 >= step.tokens) { return; }
  attend(t0, wg.y, lid / TPR, lid % TPR);
}
