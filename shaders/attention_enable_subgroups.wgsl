enable subgroups;

// The subgroup prefill kernels' order of invocations (attention_prefill_sg.wgsl,
// attention_prefill_rows.wgsl). Rows are handed out per subgroup rather than derived from
// local_invocation_index, whose mapping to subgroups WGSL leaves to the implementation: each
// subgroup takes the next slot of subgroup_size invocations, so the lanes of a row (TPR <= 4, the
// least subgroup size WebGPU allows) always share a subgroup. WG is a multiple of every subgroup size
// (<= 128), so all subgroups are full. Call in uniform control flow: it synchronizes.
var<workgroup> next_slot: atomic<u32>;

fn subgroup_order(lid: u32, sg_lane: u32, sg_size: u32) -> u32 {
  // Cleared by hand, then a barrier: SwiftShader zero-fills workgroup memory as each group of
  // invocations starts, and without a barrier it runs those groups one after another.
  if (lid == 0u) { atomicStore(&next_slot, 0u); }
  workgroupBarrier();
  var slot = 0u;
  if (subgroupElect()) { slot = atomicAdd(&next_slot, 1u); }
  slot = subgroupBroadcastFirst(slot);
  return slot * sg_size + sg_lane;
}
