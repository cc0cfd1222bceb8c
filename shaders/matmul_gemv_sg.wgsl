enable subgroups;

// GEMV reduction with subgroupAdd, then one barrier to add the subgroups' partials.
// Correct for any subgroup size: partials are indexed by local_invocation_index / subgroup_size,
// i.e. subgroups are taken to be consecutive runs of invocations, as every backend lays them out.

var<workgroup> gemv_red: array<vec4f, GEMV_WG>;
var<workgroup> gemv_ss: array<f32, GEMV_WG>;

@compute @workgroup_size(GEMV_WG)
fn gemv(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) sg_size: u32,
) {
  let row0 = gemv_row0(wg);
  var ss = 0.0;
  let s = subgroupAdd(gemv_partial(row0, lid, &ss));
  let sq = subgroupAdd(ss);
  if (lane == 0u) {
    gemv_red[lid / sg_size] = s;
    gemv_ss[lid / sg_size] = sq;
  }
  workgroupBarrier();
  if (lid == 0u) {
    var t = vec4f(0.0);
    var tss = 0.0;
    let groups = (GEMV_WG + sg_size - 1u) / sg_size;
    for (var i = 0u; i < groups; i++) {
      t += gemv_red[i];
      tss += gemv_ss[i];
    }
    store4(0u, row0, t * x_row_scale(tss));
  }
}
