// Decode GEMV, y[0, :] = x[tokens - 1, :] @ w^T: bound by reading w once. A workgroup owns
// GEMV_ROWS rows and its threads stride over their chunks together, so each step's loads are
// contiguous across threads and one x chunk feeds every row. The per-thread partial sums are
// reduced by the entry point (matmul_gemv_sg.wgsl or matmul_gemv_wg.wgsl), whose first thread
// stores the workgroup's GEMV_ROWS outputs through store4 (matmul_epilogue*.wgsl).

const GEMV_ROWS: u32 = 4u;
override GEMV_WG: u32 = 64u; // a power of two

fn gemv_row0(wg: vec3u) -> u32 {
  return (wg.x + wg.y * 65535u) * GEMV_ROWS;
}

// Also adds the sum of squares of the raw x chunks it read to *ss (for a norm prologue).
fn gemv_partial(row0: u32, lid: u32, ss: ptr<function, f32>) -> vec4f {
  let xbase = (step.tokens - 1u) * p.k;
  // rows past the end repeat the last one: their sums are never stored
  let r = min(row_map(row0), vec4u(p.n - 1u));
  let cpr = chunks_per_row();
  var acc = vec4f(0.0);
  for (var c = lid; c < cpr; c += GEMV_WG) {
    let xr = x_chunk(xbase, c);
    *ss += chunk_dot(xr, xr);
    let xc = x_pro(xr, c);
    let b = c / CHUNKS_PER_BLOCK;
    acc += vec4f(
      chunk_dot(w_chunk(r.x, c), xc) * w_scale(r.x, b),
      chunk_dot(w_chunk(r.y, c), xc) * w_scale(r.y, b),
      chunk_dot(w_chunk(r.z, c), xc) * w_scale(r.z, b),
      chunk_dot(w_chunk(r.w, c), xc) * w_scale(r.w, b),
    );
    if (HAS_MIN) {
      acc += chunk_sum(xc) * vec4f(w_min(r.x, b), w_min(r.y, b), w_min(r.z, b), w_min(r.w, b));
    }
  }
  return acc;
}
