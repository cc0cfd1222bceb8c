// Matmuls for CPU drivers (SwiftShader, llvmpipe), where a barrier costs more than it saves and
// loops are not unrolled for us: no workgroup memory, each thread owns 16 columns (rows of w) and
// 8 rows of x (the GEMV: 16 columns, 1 row) in named registers, caches do the staging. A block's
// chunks are summed before its scale is applied, once per block rather than once per chunk. Both
// read the weights masked (w_chunk_masked): one AND and one conversion a value.

// Threads per workgroup of the GEMM: few, so that even a small matrix spreads over every core.
override GEMM_REG_WG: u32 = 4u;
// Rows of w a thread of the GEMM owns: 4, 8 or 16, as groups of four (n0, n0 + 4, ...), so that
// every x value it loads (on a CPU driver each thread gathers it for itself, the dearest thing it
// does) meets them all.
override GEMM_REG_ROWS: u32 = 16u;

// Group g's four rows of w (n0 + 4g .. n0 + 4g + 3) when a thread owns `owned` rows. Past the end,
// or beyond `owned`, a group repeats the first one's rows: its sums are never stored.
fn row_group(n0: u32, g: u32, owned: u32) -> vec4u {
  let first = min(row_map(n0), vec4u(p.n - 1u));
  return select(first, min(row_map(n0 + 4u * g), vec4u(p.n - 1u)), 4u * g < owned && n0 + 4u * g < p.n);
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

fn dots4(w0: Chunk, w1: Chunk, w2: Chunk, w3: Chunk, xc: Chunk) -> vec4f {
  return vec4f(chunk_dot(w0, xc), chunk_dot(w1, xc), chunk_dot(w2, xc), chunk_dot(w3, xc));
}

// store4 (matmul_epilogue*.wgsl) writes columns n0 .. n0 + 3 of an output row.

// The GEMM's 8 rows of x against one group of four rows of w: y[m0 + i, n0 .. n0 + 3] in ri.
struct Acc8 {
  r0: vec4f,
  r1: vec4f,
  r2: vec4f,
  r3: vec4f,
  r4: vec4f,
  r5: vec4f,
  r6: vec4f,
  r7: vec4f,
}

fn acc8_add(a: Acc8, b: Acc8) -> Acc8 {
  return Acc8(a.r0 + b.r0, a.r1 + b.r1, a.r2 + b.r2, a.r3 + b.r3, a.r4 + b.r4, a.r5 + b.r5, a.r6 + b.r6, a.r7 + b.r7);
}

fn acc8_zero() -> Acc8 {
  return Acc8(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
}

// One chunk of the thread's 8 rows of x, loaded once for all its rows of w: masked (x_masked),
// and each row's raw sum (for the mins and the offset).
struct XChunks {
  c0: Chunk,
  c1: Chunk,
  c2: Chunk,
  c3: Chunk,
  c4: Chunk,
  c5: Chunk,
  c6: Chunk,
  c7: Chunk,
  ta: vec4f,
  tb: vec4f,
}

fn x_chunks(xa: vec4u, xb: vec4u, c: u32) -> XChunks {
  let x0 = x_chunk(xa.x, c);
  let x1 = x_chunk(xa.y, c);
  let x2 = x_chunk(xa.z, c);
  let x3 = x_chunk(xa.w, c);
  let x4 = x_chunk(xb.x, c);
  let x5 = x_chunk(xb.y, c);
  let x6 = x_chunk(xb.z, c);
  let x7 = x_chunk(xb.w, c);
  return XChunks(
    x_masked(x0), x_masked(x1), x_masked(x2), x_masked(x3),
    x_masked(x4), x_masked(x5), x_masked(x6), x_masked(x7),
    vec4f(chunk_sum(x0), chunk_sum(x1), chunk_sum(x2), chunk_sum(x3)),
    vec4f(chunk_sum(x4), chunk_sum(x5), chunk_sum(x6), chunk_sum(x7)),
  );
}

// Rows r of w, chunk c, unpacked once for the 8 rows of x: the masked dots, not yet scaled.
fn chunk_group(r: vec4u, c: u32, xs: XChunks) -> Acc8 {
  let w0 = w_chunk_masked(r.x, c);
  let w1 = w_chunk_masked(r.y, c);
  let w2 = w_chunk_masked(r.z, c);
  let w3 = w_chunk_masked(r.w, c);
  return Acc8(
    dots4(w0, w1, w2, w3, xs.c0), dots4(w0, w1, w2, w3, xs.c1), dots4(w0, w1, w2, w3, xs.c2), dots4(w0, w1, w2, w3, xs.c3),
    dots4(w0, w1, w2, w3, xs.c4), dots4(w0, w1, w2, w3, xs.c5), dots4(w0, w1, w2, w3, xs.c6), dots4(w0, w1, w2, w3, xs.c7),
  );
}

// A block's masked dots s of rows r, scaled, plus its sums of x (ta, tb) times the mins and offset.
fn block_group(r: vec4u, b: u32, s: Acc8, ta: vec4f, tb: vec4f) -> Acc8 {
  let sc = reg_scales(r, b);
  var v = Acc8(s.r0 * sc, s.r1 * sc, s.r2 * sc, s.r3 * sc, s.r4 * sc, s.r5 * sc, s.r6 * sc, s.r7 * sc);
  if (HAS_MIN || MASK_OFFSET != 0.0) {
    let mn = block_mins(r, b, sc);
    v = acc8_add(v, Acc8(ta.x * mn, ta.y * mn, ta.z * mn, ta.w * mn, tb.x * mn, tb.y * mn, tb.z * mn, tb.w * mn));
  }
  return v;
}

fn store_group(m0: u32, n: u32, v: Acc8) {
  let rows = step.tokens;
  store4(m0, n, v.r0);
  if (m0 + 1u < rows) { store4(m0 + 1u, n, v.r1); }
  if (m0 + 2u < rows) { store4(m0 + 2u, n, v.r2); }
  if (m0 + 3u < rows) { store4(m0 + 3u, n, v.r3); }
  if (m0 + 4u < rows) { store4(m0 + 4u, n, v.r4); }
  if (m0 + 5u < rows) { store4(m0 + 5u, n, v.r5); }
  if (m0 + 6u < rows) { store4(m0 + 6u, n, v.r6); }
  if (m0 + 7u < rows) { store4(m0 + 7u, n, v.r7); }
}

// The prefill GEMM: each thread owns 8 rows of x (m0 ..) and GEMM_REG_ROWS rows of w (n0 ..).
// Rows of x past the step's end repeat the last one (their sums are never stored): computing them
// costs less here than branching around them does.
@compute @workgroup_size(GEMM_REG_WG)
fn gemm_register(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n0 = (wg.x * GEMM_REG_WG + lid) * GEMM_REG_ROWS;
  if (n0 >= p.n) { return; }
  let ra = row_group(n0, 0u, GEMM_REG_ROWS);
  let rb = row_group(n0, 1u, GEMM_REG_ROWS);
  let rc = row_group(n0, 2u, GEMM_REG_ROWS);
  let rd = row_group(n0, 3u, GEMM_REG_ROWS);
  let m0 = wg.y * 8u;
  let last = vec4u(step.tokens - 1u);
  let xa = min(vec4u(m0) + vec4u(0u, 1u, 2u, 3u), last) * p.k;
  let xb = min(vec4u(m0) + vec4u(4u, 5u, 6u, 7u), last) * p.k;
  var ga = acc8_zero();
  var gb = acc8_zero();
  var gc = acc8_zero();
  var gd = acc8_zero();
  let cpr = chunks_per_row();
  // A chunk an iteration: unlike the GEMV's, each holds 16 x 8 x 8 multiply-adds against a few
  // variable stores, and four chunks an iteration ran no faster while taking twice as long to compile.
  for (var b = 0u; b * CHUNKS_PER_BLOCK < cpr; b++) {
    var sa = acc8_zero();
    var sb = acc8_zero();
    var sc = acc8_zero();
    var sd = acc8_zero();
    var ta = vec4f(0.0); // the block's sums of x rows xa / xb
    var tb = vec4f(0.0);
    for (var c = b * CHUNKS_PER_BLOCK; c < min(b * CHUNKS_PER_BLOCK + CHUNKS_PER_BLOCK, cpr); c++) {
      let xs = x_chunks(xa, xb, c);
      if (HAS_MIN || MASK_OFFSET != 0.0) {
        ta += xs.ta;
        tb += xs.tb;
      }
      sa = acc8_add(sa, chunk_group(ra, c, xs));
      if (GEMM_REG_ROWS >= 8u) { sb = acc8_add(sb, chunk_group(rb, c, xs)); }
      if (GEMM_REG_ROWS >= 16u) {
        sc = acc8_add(sc, chunk_group(rc, c, xs));
        sd = acc8_add(sd, chunk_group(rd, c, xs));
      }
    }
    ga = acc8_add(ga, block_group(ra, b, sa, ta, tb));
    if (GEMM_REG_ROWS >= 8u) { gb = acc8_add(gb, block_group(rb, b, sb, ta, tb)); }
    if (GEMM_REG_ROWS >= 16u) {
      gc = acc8_add(gc, block_group(rc, b, sc, ta, tb));
      gd = acc8_add(gd, block_group(rd, b, sd, ta, tb));
    }
  }
  store_group(m0, n0, ga);
  if (GEMM_REG_ROWS >= 8u && n0 + 4u < p.n) { store_group(m0, n0 + 4u, gb); }
  if (GEMM_REG_ROWS >= 16u && n0 + 8u < p.n) { store_group(m0, n0 + 8u, gc); }
  if (GEMM_REG_ROWS >= 16u && n0 + 12u < p.n) { store_group(m0, n0 + 12u, gd); }
}

// Rows of the decode GEMV per thread: 4, 8 or 16, as groups of four (n0, n0 + 4, ...), so that
// every x chunk a thread loads (on a CPU driver each thread loads it for itself) meets them all.
override GEMV_REG_ROWS: u32 = 16u;
// Threads per workgroup of the GEMV: few, so that even a small matrix spreads over every core.
override GEMV_REG_WG: u32 = 4u;

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
  let ra = row_group(n0, 0u, GEMV_REG_ROWS);
  let rb = row_group(n0, 1u, GEMV_REG_ROWS);
  let rc = row_group(n0, 2u, GEMV_REG_ROWS);
  let rd = row_group(n0, 3u, GEMV_REG_ROWS);
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
