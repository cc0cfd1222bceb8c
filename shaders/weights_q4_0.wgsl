// q4_0 weights: blocks of 32 values in 4 words (GGUF order: byte j holds value j in its low
// nibble and value j + 16 in its high nibble) with one f16 scale each in their own buffer.
// A chunk is one word: values j..j+3 (low nibbles) and j+16..j+19 (high nibbles), j = 4 * (c % 4).
// (Interface: weights_f32.wgsl.)
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

fn w_chunk(row: u32, c: u32) -> Chunk {
  let q = vec4u(w[row * p.wstride + c]);
  let lo = vec4f((q >> vec4u(0u, 8u, 16u, 24u)) & vec4u(15u)) - 8.0;
  let hi = vec4f((q >> vec4u(4u, 12u, 20u, 28u)) & vec4u(15u)) - 8.0;
  return Chunk(lo, hi);
}

fn w_chunk_i8(row: u32, c: u32) -> vec2u {
  let q = w[row * p.wstride + c];
  return vec2u(sub_bytes(q & 0x0f0f0f0fu, 8u), sub_bytes((q >> 4u) & 0x0f0f0f0fu, 8u));
}

fn w_value(row: u32, col: u32) -> f32 {
  let b = col / 32u;
  let j = col % 32u;
  let byte = extractBits(w[row * p.wstride + b * 4u + (j % 16u) / 4u], (j % 4u) * 8u, 8u);
  let q = select(byte & 15u, byte >> 4u, j >= 16u);
  return w_scale(row, b) * (f32(q) - 8.0);
}
