// q4_1 weights: blocks of 32 values in 5 words as stored: word 0 holds the f16 scale d (low half)
// and min m (high half), words 1..4 the nibbles (weights_q4_order.wgsl); value = d * nibble + m.
// (Interface: weights_f32.wgsl.)
@group(0) @binding(3) var<storage, read> w: array<u32>;

const HAS_MIN: bool = true;

fn w_scale(row: u32, block: u32) -> f32 {
  return unpack2x16float(w[row * p.wstride + block * 5u]).x;
}

fn w_min(row: u32, block: u32) -> f32 {
  return unpack2x16float(w[row * p.wstride + block * 5u]).y;
}

fn w_chunk_i8(row: u32, c: u32) -> vec2u {
  let q = w[row * p.wstride + (c / 4u) * 5u + 1u + c % 4u];
  return vec2u(q & 0x0f0f0f0fu, (q >> 4u) & 0x0f0f0f0fu);
}

fn w_chunk(row: u32, c: u32) -> Chunk {
  return chunk_less(w_chunk_i8(row, c), 0.0);
}

fn w_value(row: u32, col: u32) -> f32 {
  let b = col / 32u;
  let j = col % 32u;
  return w_scale(row, b) * f32(q4_nibble(w[row * p.wstride + b * 5u + 1u + (j % 16u) / 4u], j)) + w_min(row, b);
}

const MASK_POS = NIBBLE_POS;
const MASK_OFFSET: f32 = 0.0;

fn w_chunk_masked(row: u32, c: u32) -> Chunk {
  let q = w[row * p.wstride + (c / 4u) * 5u + 1u + c % 4u];
  return Chunk(nibbles_masked(q), nibbles_masked(q >> 4u));
}
