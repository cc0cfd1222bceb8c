// Matrix multiply y[M, N] (+)= x[M, K] @ w[N, K]^T (+ bias), shared by every variant.
// A weight split by rows into parts gets one launch per part; each writes columns
// [col0, col0 + n) of y. M comes from step.tokens.
// y's columns may be cut into up to three sections, each stored as its own row-major block
// [M, width] at its own offset: a fused Q|K|V projection writes q, k and v where the next
// kernels read them. Unsectioned, section 0 is all of y (s1 = s2 = N).
// Composed in src/kernels/matmul.ts as common + matmul_io + matmul_x_{vec4|scalar|gated}
// + matmul_prologue{,_norm,_norm_pre} + matmul_epilogue{,_rope_kv,_gated,_norm_out} + weights_<format> + one kernel family:
// matmul_gemv + matmul_gemv_{sg|wg}, matmul_gemm_tiled or matmul_gemm_register. The prologue and
// epilogue pieces other than the plain ones are decode fusions, used by the GEMVs alone.

struct Params {
  k: u32,        // inner dimension (row length of x and w)
  n: u32,        // rows of w in this part
  col0: u32,     // this part's first column of y
  wstride: u32,  // row stride of w's data, in elements of its array type
  nb: u32,       // blocks of 32 per row (quantized formats' scale index)
  flags: u32,    // FLAG_*
  s1: u32,       // first column of section 1 (N when unsectioned)
  s2: u32,       // first column of section 2
  o0: u32,       // where each section starts in y, in floats
  o1: u32,
  o2: u32,
  w0: u32,       // each section's width: its row stride in y
  w1: u32,
  w2: u32,
}

// Decode fusions' parameters (src/kernels/matmul.ts, MatmulFusion), bound only by the pieces that
// read them: matmul_prologue_norm and _norm_pre (eps), matmul_x_gated (up_stride, up_offset),
// matmul_epilogue_rope_kv (head_dim, half_rot, max_ctx, inv_freq), matmul_epilogue_gated (inter).
struct Fused {
  eps: f32,
  up_stride: u32,
  up_offset: u32,
  head_dim: u32,
  half_rot: u32,
  max_ctx: u32,
  inter: u32, // gate|up rows: I, the gate rows before the up rows
  inv_freq: array<vec4f, 32>, // rotary_dim / 2 <= 128 inverse frequencies
}

@group(0) @binding(12) var<uniform> f: Fused;

// Uniform flags rather than override constants: one pipeline serves every use of a shape, and
// the branch is taken once per output.
const FLAG_BIAS: u32 = 1u;
const FLAG_ACCUMULATE: u32 = 2u;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;

// Each weight format (weights_*.wgsl) reads its rows in chunks of CHUNK_ELEMS values, 8 or 4, and
// groups CHUNKS_PER_BLOCK chunks under one scale (w_scale; 1 for f32 and f16).
// A Chunk holds one chunk of weights, dequantized but not scaled, or the x values they meet:
// `lo` at k = chunk_k(c).x + 0..3 and `hi` at k = chunk_k(c).y + 0..3 (left 0 without CHUNK_HAS_HI).
struct Chunk {
  lo: vec4f,
  hi: vec4f,
}

fn chunk_dot(w: Chunk, xc: Chunk) -> f32 {
  var d = dot(w.lo, xc.lo);
  if (CHUNK_HAS_HI) { d += dot(w.hi, xc.hi); }
  return d;
}

// The sum of a chunk's values: what a block's min (HAS_MIN, weights_*.wgsl) multiplies.
fn chunk_sum(xc: Chunk) -> f32 {
  return chunk_dot(xc, Chunk(vec4f(1.0), vec4f(1.0)));
}

fn x_chunk(xbase: u32, c: u32) -> Chunk {
  let k = chunk_k(c);
  var xc = Chunk(load_x4(xbase, k.x), vec4f(0.0));
  if (CHUNK_HAS_HI) { xc.hi = load_x4(xbase, k.y); }
  return xc;
}

// Chunks per row, counting a zero-padded tail.
fn chunks_per_row() -> u32 {
  return (p.k + CHUNK_ELEMS - 1u) / CHUNK_ELEMS;
}

// `n` is part-local. Returns the value stored (after bias and accumulate).
fn store_y(m: u32, n: u32, v: f32) -> f32 {
  let col = p.col0 + n;
  var r = v;
  if ((p.flags & FLAG_BIAS) != 0u) { r += bias[col]; }
  var i: u32;
  if (col < p.s1) {
    i = p.o0 + m * p.w0 + col;
  } else if (col < p.s2) {
    i = p.o1 + m * p.w1 + (col - p.s1);
  } else {
    i = p.o2 + m * p.w2 + (col - p.s2);
  }
  if ((p.flags & FLAG_ACCUMULATE) != 0u) { r += y[i]; }
  y[i] = r;
  return r;
}
