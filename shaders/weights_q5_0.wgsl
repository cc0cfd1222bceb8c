// q5_0 weights: blocks of 32 values in 5 words (the u32 of fifth bits, then the nibbles,
// weights_q4_order.wgsl) with one f16 scale each in their own buffer (weights_split_scale.wgsl,
// weights_block_scale.wgsl); value = d * (q - 16). On the GPU the fifth bits are rearranged at
// load (src/quant/q5_0.ts, q5hToGpu): bit s of byte b is the fifth bit of the value whose nibble
// is in byte b of chunk word s % 4, low nibble for s < 4, high for s >= 4, so a chunk's 5-bit
// values are its nibbles ORed with one shift and mask of that word. (Interface: weights_f32.wgsl.)
@group(0) @binding(3) var<storage, read> w: array<u32>;

// The chunk's 5-bit values, unsigned (0..31), as packed bytes: low nibbles' values, high nibbles'.
fn q5_bytes(row: u32, c: u32) -> vec2u {
  let base = row * p.wstride + (c / 4u) * 5u;
  let qh = w[base];
  let q = w[base + 1u + c % 4u];
  let s = c % 4u;
  let lo = (q & 0x0f0f0f0fu) | (((qh >> s) & 0x01010101u) << 4u);
  let hi = ((q >> 4u) & 0x0f0f0f0fu) | (((qh >> (s + 4u)) & 0x01010101u) << 4u);
  return vec2u(lo, hi);
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
  let bit = (j % 4u) * 8u + (j % 16u) / 4u + (j / 16u) * 4u;
  let q = q4_nibble(w[base + 1u + (j % 16u) / 4u], j) | (((w[base] >> bit) & 1u) << 4u);
  return w_scale(row, b) * (f32(q) - 16.0);
}

// value = d * (q - 16): the 5-bit bytes in place, the -16 as an offset.
const MASK_POS = BYTE_POS;
const MASK_OFFSET: f32 = -16.0;

fn w_chunk_masked(row: u32, c: u32) -> Chunk {
  let q = q5_bytes(row, c);
  return Chunk(bytes_masked(q.x), bytes_masked(q.y));
}
