// RMSNorm prologue (decode GEMV): y = (rmsnorm(x) * g) @ w^T without writing the normed row.
// rmsnorm(x)_k * g_k = x_k * g_k * s with s = 1 / sqrt(mean(x^2) + eps) the same for the whole row,
// so each chunk is multiplied by g on the way in, the kernel sums the raw chunks' squares as it
// goes (it reads every chunk of the row anyway) and scales its dot products by s before storing.

@group(0) @binding(10) var<storage, read> norm_w: array<f32>;

fn norm_w4(k: u32) -> vec4f {
  return vec4f(
    select(0.0, norm_w[k], k < p.k),
    select(0.0, norm_w[k + 1u], k + 1u < p.k),
    select(0.0, norm_w[k + 2u], k + 2u < p.k),
    select(0.0, norm_w[k + 3u], k + 3u < p.k),
  );
}

fn x_pro(xc: Chunk, c: u32) -> Chunk {
  let k = chunk_k(c);
  var r = Chunk(xc.lo * norm_w4(k.x), vec4f(0.0));
  if (CHUNK_HAS_HI) { r.hi = xc.hi * norm_w4(k.y); }
  return r;
}

fn x_row_scale(ss: f32) -> f32 {
  return inverseSqrt(ss / f32(p.k) + f.eps);
}
