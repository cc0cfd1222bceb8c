// tile_scores with subgroup shuffles: no workgroup memory and no barriers in the key loop. Needs
// TPR <= 4, so the TPR lanes of a row share a subgroup (subgroup_order,
// attention_enable_subgroups.wgsl).

fn tile_scores(qr: Share, k_at: u32, n: u32, row: u32, lane: u32) -> array<f32, MAX_BK> {
  var sc: array<f32, MAX_BK>;
  for (var j = 0u; j < BK; j++) {
    var s = 0.0;
    if (j < n) { s = share_dot_k(qr, k_at + j * DV, lane, 0u); }
    if (TPR > 1u) { s += subgroupShuffleXor(s, 1u); }
    if (TPR > 2u) { s += subgroupShuffleXor(s, 2u); }
    sc[j] = s;
  }
  return sc;
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
  attend(t0, wg.y, i / TPR, i % TPR);
}
