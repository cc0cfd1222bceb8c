// Prefill GEMM for GPUs: a 64x64 tile of y per workgroup of 16x16 threads, each owning a 4x4
// block in registers. Per step of 16 along K, x and w tiles are staged in workgroup memory,
// w dequantized on the way. Tiles are stored k-major so each thread reads its 4 rows and 4
// columns as one vec4 apiece. 8 KB of workgroup memory: room for two workgroups per core on
// most GPUs (and SwiftShader's compile time grows with it).

const TILE: u32 = 64u;
const TILE_K: u32 = 16u; // divides 32, so a K tile lies inside one quant block
const TILE_V: u32 = TILE / 4u; // vec4s per k-row of a tile

var<workgroup> xs: array<vec4f, TILE_K * TILE_V>; // xs[k * TILE_V + m / 4][m % 4]
var<workgroup> ws: array<vec4f, TILE_K * TILE_V>; // ws[k * TILE_V + n / 4][n % 4]

fn stage_x(m0: u32, k0: u32, lid: u32) {
  let rows = step.tokens;
  // consecutive threads take consecutive rows so the transposed stores hit distinct banks
  for (var i = lid; i < TILE * (TILE_K / 4u); i += 256u) {
    let m = i % TILE;
    let kq = (i / TILE) * 4u;
    var v = vec4f(0.0);
    if (m0 + m < rows && k0 + kq < p.k) { v = load_x4((m0 + m) * p.k, k0 + kq); }
    let at = kq * TILE_V + m / 4u;
    xs[at][m % 4u] = v.x;
    xs[at + TILE_V][m % 4u] = v.y;
    xs[at + 2u * TILE_V][m % 4u] = v.z;
    xs[at + 3u * TILE_V][m % 4u] = v.w;
  }
}

fn stage_w_vec4(at: u32, n: u32, v: vec4f) {
  ws[at][n % 4u] = v.x;
  ws[at + TILE_V][n % 4u] = v.y;
  ws[at + 2u * TILE_V][n % 4u] = v.z;
  ws[at + 3u * TILE_V][n % 4u] = v.w;
}

// Stages the chunks of the K tile's 32 values that have a half inside the tile (q4_0's chunks
// straddle both halves of a block; other formats' chunks lie wholly in or out).
const CHUNKS_PER_32: u32 = 32u / CHUNK_ELEMS;

fn stage_w(n0: u32, k0: u32, lid: u32) {
  let c0 = (k0 / 32u) * CHUNKS_PER_32;
  let cpr = chunks_per_row();
  for (var i = lid; i < TILE * CHUNKS_PER_32; i += 256u) {
    let n = i % TILE;
    let c = c0 + i / TILE;
    let k = chunk_k(c);
    let lo_in = k.x >= k0 && k.x < k0 + TILE_K;
    let hi_in = CHUNK_HAS_HI && k.y >= k0 && k.y < k0 + TILE_K;
    if (!lo_in && !hi_in) { continue; }
    var wc = Chunk(vec4f(0.0), vec4f(0.0));
    var s = 0.0;
    var mn = 0.0;
    if (c < cpr) {
      let row = min(n0 + n, p.n - 1u);
      wc = w_chunk(row, c);
      s = w_scale(row, c / CHUNKS_PER_BLOCK);
      if (HAS_MIN) { mn = w_min(row, c / CHUNKS_PER_BLOCK); }
    }
    if (lo_in) { stage_w_vec4((k.x - k0) * TILE_V + n / 4u, n, s * wc.lo + mn); }
    if (hi_in) { stage_w_vec4((k.y - k0) * TILE_V + n / 4u, n, s * wc.hi + mn); }
  }
}

@compute @workgroup_size(16, 16)
fn gemm_tiled(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(local_invocation_id) li: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let m0 = wg.y * TILE;
  let n0 = wg.x * TILE;
  var acc: array<vec4f, 4>; // acc[i][j]: row m0 + 4 li.y + i, column n0 + 4 li.x + j
  for (var k0 = 0u; k0 < p.k; k0 += TILE_K) {
    stage_x(m0, k0, lid);
    stage_w(n0, k0, lid);
    workgroupBarrier();
    for (var k = 0u; k < TILE_K; k++) {
      let a = xs[k * TILE_V + li.y];
      let b = ws[k * TILE_V + li.x];
      acc[0] += a.x * b;
      acc[1] += a.y * b;
      acc[2] += a.z * b;
      acc[3] += a.w * b;
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + li.y * 4u + i;
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + li.x * 4u + j;
      if (m < step.tokens && n < p.n) { store_y(m, n, acc[i][j]); }
    }
  }
}
