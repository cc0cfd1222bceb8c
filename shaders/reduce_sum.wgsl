// A workgroup's sum of one f32 per thread, for the row kernels that run one workgroup per row
// (rmsnorm, layernorm). WG is the workgroup size (a power of two); every thread gets the total.

override WG: u32 = 64;
var<workgroup> partial: array<f32, WG>;

fn reduce_sum(lid: u32, v: f32) -> f32 {
  workgroupBarrier(); // every thread has read the previous total before it is overwritten
  partial[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { partial[lid] += partial[lid + s]; }
    workgroupBarrier();
  }
  return partial[0];
}
