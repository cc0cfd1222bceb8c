// q5_0 weights: blocks of 32 values in 5 words (the u32 of fifth bits, bit j for value j, then
// the nibbles in q4_0's order) with one f16 scale each in their own buffer; value = d * (q - 16).
// A chunk is one word of nibbles and their fifth bits, as for q4_0. (Interface: weights_f32.wgsl.)
@group(0) @binding(3) var<storage, read> w: array<u32>;
@group(0) @binding(4) var<storage, read> scales: array<u32>;

const CHUNK_ELEMS: u32 = 8u;
const CHUNK_HAS_HI: bool = true;
const CHUNKS_PER_BLOCK: u32 = 4u;
const HAS_MIN: bool = false;

fn chunk_k(c: u32) -> vec2u {
  let k = (c / 4u) * 32u + (c % 4u) * 4u;
  return vec2u(k, k + 16u);
}

fn w_scale(row: u32, block: u32) -> f32 {
  let i = row * p.nb + block;
  return unpack2x16float(scales[i / 2u] >> ((i & 1u) * 16u)).x;
}

fn w_min(row: u32, block: u32) -> f32 {
  return 0.0;
}

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
  let q = q5_bytes(row, c);
  return Chunk(u8x4(q.x) - 16.0, u8x4(q.y) - 16.0);
}

fn w_chunk_i8(row: u32, c: u32) -> vec2u {
  let q = q5_bytes(row, c);
  return vec2u(sub_bytes(q.x, 16u), sub_bytes(q.y, 16u));
}

fn w_value(row: u32, col: u32) -> f32 {
  let b = col / 32u;
  let j = col % 32u;
  let base = row * p.wstride + b * 5u;
  let byte = extractBits(w[base + 1u + (j % 16u) / 4u], (j % 4u) * 8u, 8u);
  let q = select(byte & 15u, byte >> 4u, j >= 16u) | (((w[base] >> j) & 1u) << 4u);
  return w_scale(row, b) * (f32(q) - 16.0);
}
