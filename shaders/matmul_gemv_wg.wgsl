// GEMV reduction without subgroups: a tree in workgroup memory.

var<workgroup> gemv_red: array<vec4f, GEMV_WG>;

@compute @workgroup_size(GEMV_WG)
fn gemv(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row0 = gemv_row0(wg);
  gemv_red[lid] = gemv_partial(row0, lid);
  workgroupBarrier();
  for (var s = GEMV_WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { gemv_red[lid] += gemv_red[lid + s]; }
    workgroupBarrier();
  }
  if (lid < GEMV_ROWS && row0 + lid < p.n) {
    store_y(0u, row0 + lid, gemv_red[0][lid]);
  }
}
