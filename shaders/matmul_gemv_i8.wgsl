// Decode GEMV with integer dot products: y[0, :] = x[tokens - 1, :] @ w^T where x has been packed
// to 8 bits per value (quantize_act.wgsl pack_q8: blocks of 32, q = round(x / d), d = amax / 127
// kept as f32, and per block (d, d * sum(q))) and each weight chunk comes as packed int8
// (w_chunk_i8 of the format's piece). Four values at a time meet in dot4I8Packed (WGSL language
// feature packed_4x8_integer_dot_product); a sub-block's integer sum is scaled once by the
// weight's scale and the activation block's d, and a format's min meets d * sum(q).
// Sub-blocks (CHUNKS_PER_BLOCK chunks) never straddle two 32-value activation blocks.
// Composed like the GEMVs (src/kernels/matmul.ts) with the plain prologue; any epilogue.
// Two entry points: gemv_i8_register (a thread per 4 rows, no barriers: CPU drivers) and
// gemv_i8 (GEMV_WG threads striding over the chunks of 4 rows, a workgroup-memory tree).

@group(0) @binding(20) var<storage, read> xq: array<u32>;
@group(0) @binding(21) var<storage, read> xd: array<vec2f>;

override REG_WG: u32 = 16u;
override GEMV_WG: u32 = 64u; // a power of two

// Row r's chunk c against the activations' same values, in integers.
fn i8_dot(r: u32, c: u32) -> i32 {
  let k = chunk_k(c);
  let wq = w_chunk_i8(r, c);
  return dot4I8Packed(wq.x, xq[k.x / 4u]) + dot4I8Packed(wq.y, xq[k.y / 4u]);
}

fn i8_dot4(r: vec4u, c: u32) -> vec4i {
  return vec4i(i8_dot(r.x, c), i8_dot(r.y, c), i8_dot(r.z, c), i8_dot(r.w, c));
}

// Sub-block b's integer sums of rows r, scaled: by the weights' scales and the block's d, plus
// the weights' mins times the block's sum.
fn i8_scaled(r: vec4u, b: u32, s: vec4i) -> vec4f {
  let a = xd[chunk_k(b * CHUNKS_PER_BLOCK).x / 32u];
  var v = vec4f(s) * a.x * vec4f(w_scale(r.x, b), w_scale(r.y, b), w_scale(r.z, b), w_scale(r.w, b));
  if (HAS_MIN) { v += a.y * vec4f(w_min(r.x, b), w_min(r.y, b), w_min(r.z, b), w_min(r.w, b)); }
  return v;
}

@compute @workgroup_size(REG_WG)
fn gemv_i8_register(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n0 = (wg.x * REG_WG + lid) * 4u;
  // (the packed row is step.tokens - 1's; an empty step has none)
  if (n0 >= p.n || step.tokens == 0u) { return; }
  let r = min(row_map(n0), vec4u(p.n - 1u));
  var acc = vec4f(0.0);
  let cpr = chunks_per_row();
  for (var b = 0u; b * CHUNKS_PER_BLOCK < cpr; b++) {
    var s = vec4i(0);
    for (var c = b * CHUNKS_PER_BLOCK; c < b * CHUNKS_PER_BLOCK + CHUNKS_PER_BLOCK; c++) { s += i8_dot4(r, c); }
    acc += i8_scaled(r, b, s);
  }
  store4(0u, n0, acc);
}

var<workgroup> i8_red: array<vec4f, GEMV_WG>;

@compute @workgroup_size(GEMV_WG)
fn gemv_i8(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n0 = (wg.x + wg.y * 65535u) * 4u;
  let r = min(row_map(n0), vec4u(p.n - 1u));
  var acc = vec4f(0.0);
  let blocks = chunks_per_row() / CHUNKS_PER_BLOCK;
  for (var b = lid; b < blocks; b += GEMV_WG) {
    var s = vec4i(0);
    for (var c = b * CHUNKS_PER_BLOCK; c < b * CHUNKS_PER_BLOCK + CHUNKS_PER_BLOCK; c++) { s += i8_dot4(r, c); }
    acc += i8_scaled(r, b, s);
  }
  i8_red[lid] = acc;
  workgroupBarrier();
  for (var h = GEMV_WG / 2u; h > 0u; h = h >> 1u) {
    if (lid < h) { i8_red[lid] += i8_red[lid + h]; }
    workgroupBarrier();
  }
  if (lid == 0u && n0 < p.n && step.tokens > 0u) { store4(0u, n0, i8_red[0]); }
}
