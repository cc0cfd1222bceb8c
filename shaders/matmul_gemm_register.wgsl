// Matmul for CPU drivers (SwiftShader, llvmpipe), where a barrier costs more than it saves:
// no workgroup memory, each thread computes a block of REG_M rows x 4 columns straight from
// global memory (caches do the staging). With GEMV_MODE it is the decode GEMV: one row,
// x[tokens - 1], written to y[0].

override REG_WG: u32 = 16u;
override GEMV_MODE: bool = false;
const REG_N: u32 = 4u;

@compute @workgroup_size(REG_WG)
fn gemm_register(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n0 = (wg.x * REG_WG + lid) * REG_N;
  if (n0 >= p.n) { return; }
  let rows = step.tokens;
  let reg_m = select(4u, 1u, GEMV_MODE);
  let m0 = select(wg.y * 4u, rows - 1u, GEMV_MODE);
  var xb: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) { xb[i] = min(m0 + i, rows - 1u) * p.k; }
  let r = min(vec4u(n0) + vec4u(0u, 1u, 2u, 3u), vec4u(p.n - 1u));
  var acc: array<vec4f, 4>; // acc[i][j]: row m0 + i, column n0 + j
  let cpr = chunks_per_row();
  for (var c = 0u; c < cpr; c++) {
    let w0 = w_chunk(r.x, c);
    let w1 = w_chunk(r.y, c);
    let w2 = w_chunk(r.z, c);
    let w3 = w_chunk(r.w, c);
    for (var i = 0u; i < reg_m; i++) {
      let xc = x_chunk(xb[i], c);
      acc[i] += vec4f(chunk_dot(w0, xc), chunk_dot(w1, xc), chunk_dot(w2, xc), chunk_dot(w3, xc));
    }
  }
  for (var i = 0u; i < reg_m; i++) {
    let m = m0 + i;
    if (m >= rows) { break; }
    for (var j = 0u; j < REG_N; j++) {
      if (n0 + j < p.n) { store_y(select(m, 0u, GEMV_MODE), n0 + j, acc[i][j]); }
    }
  }
}
