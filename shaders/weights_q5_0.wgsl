// q5_0 weights: blocks of 32 values in 5 words (the u32 of fifth bits, bit j for value j, then
// the nibbles, weights_q4_order.wgsl) with one f16 scale each in their own buffer
// (weights_split_scale.wgsl, weights_block_scale.wgsl); value = d * (q - 16). (Interface: weights_f32.wgsl.)
@group(0) @binding(3) var<storage, read> w: array<u32>;

// Bits i..i+3 of qh spread to bit 4 of each byte.
fn q5_high(qh: u32, i: u32) -> u32 {
  let h = (qh >> i) & 15u;
  return ((h & 1u) | ((h & 2u) << 7u) | ((h & 4u) << 14u) | ((h & 8u) << 21u)) << 4u;
}

// The chunk's 5-bit values, unsigned (0..31), as packed bytes.
fn q5_bytes(row: u32, c: u32) -> vec2u {
  let base = row * p.wstride + (c / 4u) * 5u;
  let qh = w[base];
  let q = w[base + 1u + c % 4u];
  let i = (c % 4u) * 4u;
  return vec2u((q & 0x0f0f0f0fu) | q5_high(qh, i), ((q >> 4u) & 0x0f0f0f0fu) | q5_high(qh, i + 16u));
}

fn w_chunk(row: u32, c: u32) -> Chunk {
  return chunk_less(q5_bytes(row, c), 16.0);
}

fn w_chunk_i8(row: u32, c: u32) -> vec2u {
  return i8_less(q5_bytes(row, c), 16u);
}

fn w_value(row: u32, col: u32) -> f32 {
  let b = col / 32u;
  let j = col % 32u;
  let base = row * p.wstride + b * 5u;
  let q = q4_nibble(w[base + 1u + (j % 16u) / 4u], j) | (((w[base] >> j) & 1u) << 4u);
  return w_scale(row, b) * (f32(q) - 16.0);
}
