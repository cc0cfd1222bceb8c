// q4_0 weights: blocks of 32 values in 4 words of nibbles (weights_q4_order.wgsl) with one f16
// scale each in their own buffer (weights_split_scale.wgsl, weights_block_scale.wgsl); value = d * (nibble - 8).
// (Interface: weights_f32.wgsl.)
@group(0) @binding(3) var<storage, read> w: array<u32>;

fn w_chunk_i8(row: u32, c: u32) -> vec2u {
  let q = w[row * p.wstride + c];
  return i8_less(vec2u(q & 0x0f0f0f0fu, (q >> 4u) & 0x0f0f0f0fu), 8u);
}

fn w_chunk(row: u32, c: u32) -> Chunk {
  let q = vec4u(w[row * p.wstride + c]);
  let lo = vec4f((q >> vec4u(0u, 8u, 16u, 24u)) & vec4u(15u)) - 8.0;
  let hi = vec4f((q >> vec4u(4u, 12u, 20u, 28u)) & vec4u(15u)) - 8.0;
  return Chunk(lo, hi);
}

fn w_value(row: u32, col: u32) -> f32 {
  let b = col / 32u;
  let j = col % 32u;
  return w_scale(row, b) * (f32(q4_nibble(w[row * p.wstride + b * 4u + (j % 16u) / 4u], j)) - 8.0);
}

// value = d * (q - 8): the nibbles in place, the -8 as an offset.
const MASK_POS = NIBBLE_POS;
const MASK_OFFSET: f32 = -8.0;

fn w_chunk_masked(row: u32, c: u32) -> Chunk {
  let q = w[row * p.wstride + c];
  return Chunk(nibbles_masked(q), nibbles_masked(q >> 4u));
}
