// tile_scores with subgroup shuffles: no workgroup memory and no barriers in the key loop. Needs
// TPR <= 4, the least subgroup size WebGPU allows, so the TPR lanes of a row always share a subgroup.
// Rows are handed out per subgroup rather than derived from local_invocation_index, whose mapping to
// subgroups WGSL leaves to the implementation: each subgroup takes the next slot of
// subgroup_size / TPR rows. WG is a multiple of every subgroup size (<= 128), so all subgroups are full.

var<workgroup> next_slot: atomic<u32>;

fn tile_scores(qr: Share, k_at: u32, n: u32, row: u32, lane: u32) -> array<f32, MAX_BK> {
  var sc: array<f32, MAX_BK>;
  for (var j = 0u; j < BK; j++) {
    var s = 0.0;
    if (j < n) { s = share_dot_k(qr, k_at + j * DV, lane); }
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
  // Cleared by hand, then a barrier: SwiftShader zero-fills workgroup memory as each group of
  // invocations starts, and without a barrier it runs those groups one after another.
  if (lid == 0u) { atomicStore(&next_slot, 0u); }
  workgroupBarrier();
  var slot = 0u;
  if (subgroupElect()) { slot = atomicAdd(&next_slot, 1u); }
  slot = subgroupBroadcastFirst(slot);
  let first = slot * sg_size;
  attend(t0, wg.y, (first + sg_lane) / TPR, sg_lane % TPR);
}
