// q5_k (ggml Q5_K) weights: super-blocks of 256 values in 44 words as stored: d and dmin, the
// packed scales (weights_k_scales.wgsl), qh[32] (bit s of byte l: the fifth bit of value l of
// sub-block s), then the nibbles as Q4_K holds them. A chunk is 8 consecutive values of one
// sub-block (2 words of nibbles, 2 of fifth bits). (Interface: weights_f32.wgsl.)
@group(0) @binding(3) var<storage, read> w: array<u32>;

const K_WORDS: u32 = 44u;

fn w_chunk_i8(row: u32, c: u32) -> vec2u {
  let s = (c % 32u) / 4u;
  let base = row * p.wstride + (c / 32u) * K_WORDS;
  let at = base + 12u + (s / 2u) * 8u + (c % 4u) * 2u;
  let hat = base + 4u + (c % 4u) * 2u;
  let sh = (s & 1u) * 4u;
  return vec2u(
    ((w[at] >> sh) & 0x0f0f0f0fu) | (((w[hat] >> s) & 0x01010101u) << 4u),
    ((w[at + 1u] >> sh) & 0x0f0f0f0fu) | (((w[hat + 1u] >> s) & 0x01010101u) << 4u),
  );
}

fn w_value(row: u32, col: u32) -> f32 {
  let v = col % 256u;
  let s = v / 32u;
  let l = v % 32u;
  let base = row * p.wstride + (col / 256u) * K_WORDS;
  let lo = extractBits(w[base + 12u + (s / 2u) * 8u + l / 4u], (l % 4u) * 8u + (s & 1u) * 4u, 4u);
  let hi = extractBits(w[base + 4u + l / 4u], (l % 4u) * 8u + s, 1u);
  return w_scale(row, col / 32u) * f32(lo | (hi << 4u)) + w_min(row, col / 32u);
}

// The 5-bit bytes in place (no offset: the min is the sub-block's).
const MASK_POS = BYTE_POS;
const MASK_OFFSET: f32 = 0.0;

fn w_chunk_masked(row: u32, c: u32) -> Chunk {
  let q = w_chunk_i8(row, c);
  return Chunk(bytes_masked(q.x), bytes_masked(q.y));
}
