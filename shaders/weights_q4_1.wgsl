// q4_1 weights: blocks of 32 values in 5 words as stored: word 0 holds the f16 scale d (low half)
// and min m (high half), words 1..4 the nibbles in q4_0's order; value = d * nibble + m.
// A chunk is one word of nibbles, as for q4_0. (Interface: weights_f32.wgsl.)
@group(0) @binding(3) var<storage, read> w: array<u32>;

const CHUNK_ELEMS: u32 = 8u;
const CHUNK_HAS_HI: bool = true;
const CHUNKS_PER_BLOCK: u32 = 4u;
const HAS_MIN: bool = true;

fn chunk_k(c: u32) -> vec2u {
  let k = (c / 4u) * 32u + (c % 4u) * 4u;
  return vec2u(k, k + 16u);
}

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
  let q = w_chunk_i8(row, c);
  return Chunk(u8x4(q.x), u8x4(q.y));
}

fn w_value(row: u32, col: u32) -> f32 {
  let b = col / 32u;
  let j = col % 32u;
  let byte = extractBits(w[row * p.wstride + b * 5u + 1u + (j % 16u) / 4u], (j % 4u) * 8u, 8u);
  let q = select(byte & 15u, byte >> 4u, j >= 16u);
  return w_scale(row, b) * f32(q) + w_min(row, b);
}
