// Q|K|V epilogue (the GEMV only): rotate q and k by the position of the step's token and store q
// into y's section 0 and k and v straight into the layer's caches [kv_heads, max_ctx, head_dim], so
// neither RoPE nor the KV append is a launch of its own. A kernel's group of four outputs n0 .. n0 + 3
// (n0 a multiple of 4; head_dim and the section widths multiples of 4) lies in one head of one section
// and, through row_map, holds two whole rotary pairs: interleaved, dims (d, d + 1) and (d + 2, d + 3);
// rotate-half (ROPE_HALF, rotary_dim a multiple of 4), the group s = d / 4 of a head below
// rotary_dim / 4 computes dims (2s, 2s + 1, 2s + h, 2s + 1 + h), h = rotary_dim / 2: pairs (x, z) and
// (y, w). Groups past the rotary dims, and V, are consecutive. Needs shaders/rope_math.wgsl, and
// the caches' store_kv4 from matmul_kv_f32.wgsl or matmul_kv_f16.wgsl.

override ROPE_HALF: bool = false;


fn inv_freq(j: u32) -> f32 {
  return f.inv_freq[j / 4u][j % 4u];
}

// The head dims of a group n0 (part-local; one part, so columns), as row_map gives them.
fn head_dims(n0: u32) -> vec4u {
  let d = n0 % f.head_dim;
  let s = d / 4u;
  let h = f.half_rot;
  if (ROPE_HALF && n0 < p.s2 && 4u * s < 2u * h) {
    return vec4u(2u * s, 2u * s + 1u, 2u * s + h, 2u * s + 1u + h);
  }
  return vec4u(d) + vec4u(0u, 1u, 2u, 3u);
}

fn row_map(n0: u32) -> vec4u {
  return vec4u(n0 - n0 % f.head_dim) + head_dims(n0);
}

// v holds dims `dims` of a head; the rotated values of those dims, where rotated (pair j < half_rot).
fn rope4(v: vec4f, dims: vec4u, pos: u32) -> vec4f {
  var r = v;
  if (ROPE_HALF) {
    let j0 = dims.x;
    if (j0 < f.half_rot && dims.z == j0 + f.half_rot) {
      let a = rotate(v.x, v.z, cos_sin(f32(pos) * inv_freq(j0)));
      let b = rotate(v.y, v.w, cos_sin(f32(pos) * inv_freq(j0 + 1u)));
      r = vec4f(a.x, b.x, a.y, b.y);
    }
    return r;
  }
  let j0 = dims.x / 2u;
  if (j0 < f.half_rot) {
    let a = rotate(v.x, v.y, cos_sin(f32(pos) * inv_freq(j0)));
    r.x = a.x;
    r.y = a.y;
  }
  if (j0 + 1u < f.half_rot) {
    let b = rotate(v.z, v.w, cos_sin(f32(pos) * inv_freq(j0 + 1u)));
    r.z = b.x;
    r.w = b.y;
  }
  return r;
}

fn store4(m: u32, n0: u32, v: vec4f) {
  let col = p.col0 + n0;
  let pos = step.pos + step.tokens - 1u; // the GEMV's row: the step's last token
  let dims = head_dims(col);
  let base = col - col % f.head_dim; // the head's first column
  if (col < p.s1) {
    let r = rope4(v, dims, pos);
    let i = p.o0 + m * p.w0 + base;
    y[i + dims.x] = r.x;
    y[i + dims.y] = r.y;
    y[i + dims.z] = r.z;
    y[i + dims.w] = r.w;
    return;
  }
  let is_k = col < p.s2;
  let c = select(base - p.s2, base - p.s1, is_k);
  let at = ((c / f.head_dim) * f.max_ctx + pos) * f.head_dim;
  if (is_k) {
    store_kv4(true, at, dims, rope4(v, dims, pos));
  } else {
    store_kv4(false, at, dims, v);
  }
}
