// GEMV reduction without subgroups: a tree in workgroup memory.

var<workgroup> gemv_red: array<vec4f, GEMV_WG>;
var<workgroup> gemv_ss: array<f32, GEMV_WG>;

@compute @workgroup_size(GEMV_WG)
fn gemv(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row0 = gemv_row0(wg);
  var ss = 0.0;
  gemv_red[lid] = gemv_partial(row0, lid, &ss);
  gemv_ss[lid] = ss;
  workgroupBarrier();
  for (var s = GEMV_WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      gemv_red[lid] += gemv_red[lid + s];
      gemv_ss[lid] += gemv_ss[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    store4(0u, row0, gemv_red[0] * x_row_scale(gemv_ss[0]));
  }
}
