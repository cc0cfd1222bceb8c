// Matmuls for CPU drivers (SwiftShader, llvmpipe), where a barrier costs more than it saves and
// loops are not unrolled for us: no workgroup memory, each thread owns 4 columns (rows of w) and
// 8 rows of x (the GEMV: 16 columns, 1 row) in named registers, caches do the staging. A block's
// chunks are summed before its scale is applied, once per block rather than once per chunk. Both
// read the weights masked (w_chunk_masked): one AND and one conversion a value.

override REG_WG: u32 = 16u;

fn reg_rows(wg: vec3u, lid: u32) -> vec4u {
  let n0 = (wg.x * REG_WG + lid) * 4u;
  return min(row_map(n0), vec4u(p.n - 1u));
}

fn reg_scales(r: vec4u, b: u32) -> vec4f {
  return vec4f(w_scale(r.x, b), w_scale(r.y, b), w_scale(r.z, b), w_scale(r.w, b));
}

// Each block's min meets the sum of the x values of the block (HAS_MIN formats).
fn reg_mins(r: vec4u, b: u32) -> vec4f {
  return vec4f(w_min(r.x, b), w_min(r.y, b), w_min(r.z, b), w_min(r.w, b));
}

// What a block's sum of x meets: the mins and the masked format's offset (weights_bytes.wgsl) times the scales sc.
fn block_mins(r: vec4u, b: u32, sc: vec4f) -> vec4f {
  var v = MASK_OFFSET * sc;
  if (HAS_MIN) { v += reg_mins(r, b); }
  return v;
}

// An x chunk scaled to meet masked weights (w_chunk_masked).
fn x_masked(xc: Chunk) -> Chunk {
  if (all(MASK_POS == vec4f(1.0))) { return xc; } // (a constant: unmasked formats pay nothing)
  return Chunk(xc.lo * MASK_POS, xc.hi * MASK_POS);
}

// Four consecutive chunks, c .. c + 3 (the unrolled paths, when blocks come in fours).
struct Quad {
  c0: Chunk,
  c1: Chunk,
  c2: Chunk,
  c3: Chunk,
}

fn w_quad(row: u32, c: u32) -> Quad {
  return Quad(w_chunk_masked(row, c), w_chunk_masked(row, c + 1u), w_chunk_masked(row, c + 2u), w_chunk_masked(row, c + 3u));
}

fn x_quad(xbase: u32, c: u32) -> Quad {
  return Quad(x_chunk(xbase, c), x_chunk(xbase, c + 1u), x_chunk(xbase, c + 2u), x_chunk(xbase, c + 3u));
}

fn quad_masked(q: Quad) -> Quad {
  return Quad(x_masked(q.c0), x_masked(q.c1), x_masked(q.c2), x_masked(q.c3));
}

fn quad_dot(w: Quad, x: Quad) -> f32 {
  return (chunk_dot(w.c0, x.c0) + chunk_dot(w.c1, x.c1)) + (chunk_dot(w.c2, x.c2) + chunk_dot(w.c3, x.c3));
}

fn quad_sum(x: Quad) -> f32 {
  return (chunk_sum(x.c0) + chunk_sum(x.c1)) + (chunk_sum(x.c2) + chunk_sum(x.c3));
}

// Whether the unrolled paths apply: blocks of a multiple of four chunks, rows of whole quads. A block
// of 8 chunks (f32) gets its scale once per half: the same sum.
fn quads_fit(cpr: u32) -> bool {
  return CHUNKS_PER_BLOCK % 4u == 0u && cpr % 4u == 0u;
}

// Row m of x (masked xm, raw sum t) against the four weight rows w0..w3 of block b, scaled.
fn gemm_quad(w0: Quad, w1: Quad, w2: Quad, w3: Quad, xm: Quad, t: f32, sc: vec4f, mn: vec4f) -> vec4f {
  var v = vec4f(quad_dot(w0, xm), quad_dot(w1, xm), quad_dot(w2, xm), quad_dot(w3, xm)) * sc;
  if (HAS_MIN || MASK_OFFSET != 0.0) { v += t * mn; }
  return v;
}

fn dots4(w0: Chunk, w1: Chunk, w2: Chunk, w3: Chunk, xc: Chunk) -> vec4f {
  return vec4f(chunk_dot(w0, xc), chunk_dot(w1, xc), chunk_dot(w2, xc), chunk_dot(w3, xc));
}

// store4 (matmul_epilogue*.wgsl) writes columns n0 .. n0 + 3 of an output row.

// Rows of x a thread of the GEMM owns: 8 as two groups of four (m0 and m0 + 4), so that each weight
// chunk it unpacks meets eight rows of x; with fewer rows in the step the second group is skipped.
@compute @workgroup_size(REG_WG)
fn gemm_register(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n0 = (wg.x * REG_WG + lid) * 4u;
  if (n0 >= p.n) { return; }
  let r = reg_rows(wg, lid);
  let rows = step.tokens;
  let m0 = wg.y * 8u;
  let two = m0 + 4u < rows;
  // rows past the end repeat the last one: their sums are never stored
  let xa = min(vec4u(m0) + vec4u(0u, 1u, 2u, 3u), vec4u(rows - 1u)) * p.k;
  let xb = min(vec4u(m0) + vec4u(4u, 5u, 6u, 7u), vec4u(rows - 1u)) * p.k;
  var acc0 = vec4f(0.0); // acc<i>[j]: y[m0 + i, n0 + j]
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  var acc4 = vec4f(0.0);
  var acc5 = vec4f(0.0);
  var acc6 = vec4f(0.0);
  var acc7 = vec4f(0.0);
  let cpr = chunks_per_row();
  if (quads_fit(cpr)) {
    // four chunks an iteration in straight-line code (see gemv_register)
    for (var c = 0u; c < cpr; c += 4u) {
      let b = c / CHUNKS_PER_BLOCK;
      let sc = reg_scales(r, b);
      let mn = block_mins(r, b, sc);
      let w0 = w_quad(r.x, c);
      let w1 = w_quad(r.y, c);
      let w2 = w_quad(r.z, c);
      let w3 = w_quad(r.w, c);
      let x0 = x_quad(xa.x, c);
      let x1 = x_quad(xa.y, c);
      let x2 = x_quad(xa.z, c);
      let x3 = x_quad(xa.w, c);
      acc0 += gemm_quad(w0, w1, w2, w3, quad_masked(x0), quad_sum(x0), sc, mn);
      acc1 += gemm_quad(w0, w1, w2, w3, quad_masked(x1), quad_sum(x1), sc, mn);
      acc2 += gemm_quad(w0, w1, w2, w3, quad_masked(x2), quad_sum(x2), sc, mn);
      acc3 += gemm_quad(w0, w1, w2, w3, quad_masked(x3), quad_sum(x3), sc, mn);
      if (two) {
        let x4 = x_quad(xb.x, c);
        let x5 = x_quad(xb.y, c);
        let x6 = x_quad(xb.z, c);
        let x7 = x_quad(xb.w, c);
        acc4 += gemm_quad(w0, w1, w2, w3, quad_masked(x4), quad_sum(x4), sc, mn);
        acc5 += gemm_quad(w0, w1, w2, w3, quad_masked(x5), quad_sum(x5), sc, mn);
        acc6 += gemm_quad(w0, w1, w2, w3, quad_masked(x6), quad_sum(x6), sc, mn);
        acc7 += gemm_quad(w0, w1, w2, w3, quad_masked(x7), quad_sum(x7), sc, mn);
      }
    }
  } else {
    for (var b = 0u; b * CHUNKS_PER_BLOCK < cpr; b++) {
      var s0 = vec4f(0.0);
      var s1 = vec4f(0.0);
      var s2 = vec4f(0.0);
      var s3 = vec4f(0.0);
      var s4 = vec4f(0.0);
      var s5 = vec4f(0.0);
      var s6 = vec4f(0.0);
      var s7 = vec4f(0.0);
      var ta = vec4f(0.0); // ta[i] / tb[i]: the block's sum of x row m0 + i / m0 + 4 + i
      var tb = vec4f(0.0);
      let end = min(b * CHUNKS_PER_BLOCK + CHUNKS_PER_BLOCK, cpr);
      for (var c = b * CHUNKS_PER_BLOCK; c < end; c++) {
        let w0 = w_chunk_masked(r.x, c);
        let w1 = w_chunk_masked(r.y, c);
        let w2 = w_chunk_masked(r.z, c);
        let w3 = w_chunk_masked(r.w, c);
        let x0 = x_chunk(xa.x, c);
        let x1 = x_chunk(xa.y, c);
        let x2 = x_chunk(xa.z, c);
        let x3 = x_chunk(xa.w, c);
        s0 += dots4(w0, w1, w2, w3, x_masked(x0));
        s1 += dots4(w0, w1, w2, w3, x_masked(x1));
        s2 += dots4(w0, w1, w2, w3, x_masked(x2));
        s3 += dots4(w0, w1, w2, w3, x_masked(x3));
        if (HAS_MIN || MASK_OFFSET != 0.0) { ta += vec4f(chunk_sum(x0), chunk_sum(x1), chunk_sum(x2), chunk_sum(x3)); }
        if (two) {
          let x4 = x_chunk(xb.x, c);
          let x5 = x_chunk(xb.y, c);
          let x6 = x_chunk(xb.z, c);
          let x7 = x_chunk(xb.w, c);
          s4 += dots4(w0, w1, w2, w3, x_masked(x4));
          s5 += dots4(w0, w1, w2, w3, x_masked(x5));
          s6 += dots4(w0, w1, w2, w3, x_masked(x6));
          s7 += dots4(w0, w1, w2, w3, x_masked(x7));
          if (HAS_MIN || MASK_OFFSET != 0.0) { tb += vec4f(chunk_sum(x4), chunk_sum(x5), chunk_sum(x6), chunk_sum(x7)); }
        }
      }
      let sc = reg_scales(r, b);
      acc0 += s0 * sc;
      acc1 += s1 * sc;
      acc2 += s2 * sc;
      acc3 += s3 * sc;
      acc4 += s4 * sc;
      acc5 += s5 * sc;
      acc6 += s6 * sc;
      acc7 += s7 * sc;
      if (HAS_MIN || MASK_OFFSET != 0.0) {
        let mn = block_mins(r, b, sc);
        acc0 += ta.x * mn;
        acc1 += ta.y * mn;
        acc2 += ta.z * mn;
        acc3 += ta.w * mn;
        acc4 += tb.x * mn;
        acc5 += tb.y * mn;
        acc6 += tb.z * mn;
        acc7 += tb.w * mn;
      }
    }
  }
  store4(m0, n0, acc0);
  if (m0 + 1u < rows) { store4(m0 + 1u, n0, acc1); }
  if (m0 + 2u < rows) { store4(m0 + 2u, n0, acc2); }
  if (m0 + 3u < rows) { store4(m0 + 3u, n0, acc3); }
  if (m0 + 4u < rows) { store4(m0 + 4u, n0, acc4); }
  if (m0 + 5u < rows) { store4(m0 + 5u, n0, acc5); }
  if (m0 + 6u < rows) { store4(m0 + 6u, n0, acc6); }
  if (m0 + 7u < rows) { store4(m0 + 7u, n0, acc7); }
}

// Rows of the decode GEMV per thread: 4, 8 or 16, as groups of four (n0, n0 + 4, ...), so that
// every x chunk a thread loads (on a CPU driver each thread loads it for itself) meets them all.
override GEMV_REG_ROWS: u32 = 16u;
// Threads per workgroup of the GEMV: few, so that even a small matrix spreads over every core.
override GEMV_REG_WG: u32 = 4u;

// Group g's rows (n0 + 4g .. n0 + 4g + 3). Past the end, or beyond GEMV_REG_ROWS, a group repeats
// the first one's rows: its sums are never stored.
fn gemv_group(n0: u32, g: u32) -> vec4u {
  let first = min(row_map(n0), vec4u(p.n - 1u));
  return select(first, min(row_map(n0 + 4u * g), vec4u(p.n - 1u)), 4u * g < GEMV_REG_ROWS && n0 + 4u * g < p.n);
}

fn dots4_masked(r: vec4u, c: u32, xm: Chunk) -> vec4f {
  return dots4(w_chunk_masked(r.x, c), w_chunk_masked(r.y, c), w_chunk_masked(r.z, c), w_chunk_masked(r.w, c), xm);
}

// A quad's masked dots against rows r.
fn dots_quad(r: vec4u, c: u32, mq: Quad) -> vec4f {
  return (dots4_masked(r, c, mq.c0) + dots4_masked(r, c + 1u, mq.c1)) + (dots4_masked(r, c + 2u, mq.c2) + dots4_masked(r, c + 3u, mq.c3));
}

// A block's sums of rows r: the masked dots s times the scales, plus the block's sum of x, t, times
// the mins and the format's offset.
fn gemv_block(r: vec4u, b: u32, s: vec4f, t: f32) -> vec4f {
  let sc = reg_scales(r, b);
  var v = s * sc;
  if (HAS_MIN || MASK_OFFSET != 0.0) { v += t * block_mins(r, b, sc); }
  return v;
}

// The decode GEMV: y[0, :] = x[tokens - 1, :] @ w^T. Weights come masked (w_chunk_masked): x is
// scaled by MASK_POS once per chunk for all the thread's rows.
@compute @workgroup_size(GEMV_REG_WG)
fn gemv_register(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n0 = (wg.x * GEMV_REG_WG + lid) * GEMV_REG_ROWS;
  if (n0 >= p.n) { return; }
  let ra = gemv_group(n0, 0u);
  let rb = gemv_group(n0, 1u);
  let rc = gemv_group(n0, 2u);
  let rd = gemv_group(n0, 3u);
  let xb = (step.tokens - 1u) * p.k;
  var acc_a = vec4f(0.0);
  var acc_b = vec4f(0.0);
  var acc_c = vec4f(0.0);
  var acc_d = vec4f(0.0);
  var ss = 0.0; // the raw row's sum of squares, for a norm prologue (dropped without one)
  let cpr = chunks_per_row();
  if (quads_fit(cpr)) {
    // Four chunks an iteration in straight-line code: a loop over chunks would store every sum to
    // memory per chunk (CPU drivers keep loop variables there, and a masked store costs several
    // instructions).
    for (var c = 0u; c < cpr; c += 4u) {
      let b = c / CHUNKS_PER_BLOCK;
      let xq = x_quad(xb, c);
      ss += quad_dot(xq, xq);
      let pq = Quad(x_pro(xq.c0, c), x_pro(xq.c1, c + 1u), x_pro(xq.c2, c + 2u), x_pro(xq.c3, c + 3u));
      let t = quad_sum(pq);
      let mq = quad_masked(pq);
      acc_a += gemv_block(ra, b, dots_quad(ra, c, mq), t);
      if (GEMV_REG_ROWS >= 8u) { acc_b += gemv_block(rb, b, dots_quad(rb, c, mq), t); }
      if (GEMV_REG_ROWS >= 16u) {
        acc_c += gemv_block(rc, b, dots_quad(rc, c, mq), t);
        acc_d += gemv_block(rd, b, dots_quad(rd, c, mq), t);
      }
    }
  } else {
    // a chunk an iteration (q6_k's two-chunk blocks, rows of a ragged length)
    for (var b = 0u; b * CHUNKS_PER_BLOCK < cpr; b++) {
      var sa = vec4f(0.0);
      var sb = vec4f(0.0);
      var sc = vec4f(0.0);
      var sd = vec4f(0.0);
      var t = 0.0; // the block's sum of x
      for (var c = b * CHUNKS_PER_BLOCK; c < min(b * CHUNKS_PER_BLOCK + CHUNKS_PER_BLOCK, cpr); c++) {
        let xr = x_chunk(xb, c);
        ss += chunk_dot(xr, xr);
        let xc = x_pro(xr, c);
        t += chunk_sum(xc);
        let xm = x_masked(xc);
        sa += dots4_masked(ra, c, xm);
        if (GEMV_REG_ROWS >= 8u) { sb += dots4_masked(rb, c, xm); }
        if (GEMV_REG_ROWS >= 16u) {
          sc += dots4_masked(rc, c, xm);
          sd += dots4_masked(rd, c, xm);
        }
      }
      acc_a += gemv_block(ra, b, sa, t);
      acc_b += gemv_block(rb, b, sb, t);
      acc_c += gemv_block(rc, b, sc, t);
      acc_d += gemv_block(rd, b, sd, t);
    }
  }
  let s = x_row_scale(ss);
  store4(0u, n0, acc_a * s);
  if (GEMV_REG_ROWS >= 8u && n0 + 4u < p.n) { store4(0u, n0 + 4u, acc_b * s); }
  if (GEMV_REG_ROWS >= 16u && n0 + 8u < p.n) { store4(0u, n0 + 8u, acc_c * s); }
  if (GEMV_REG_ROWS >= 16u && n0 + 12u < p.n) { store4(0u, n0 + 12u, acc_d * s); }
}
