// q8_0 weights: blocks of 32 int8 (8 words) with one f16 scale each, scales in their own
// buffer. A chunk is 8 consecutive values (2 words); 4 chunks share a block's scale.
@group(0) @binding(3) var<storage, read> w: array<vec2u>;
@group(0) @binding(4) var<storage, read> scales: array<u32>;

const CHUNK_ELEMS: u32 = 8u;
const CHUNK_HAS_HI: bool = true;
const CHUNKS_PER_BLOCK: u32 = 4u;

fn chunk_k(c: u32) -> vec2u {
  return vec2u(c * 8u, c * 8u + 4u);
}

fn w_scale(row: u32, block: u32) -> f32 {
  let i = row * p.nb + block;
  return unpack2x16float(scales[i / 2u] >> ((i & 1u) * 16u)).x;
}

// Four little-endian int8 of a word, sign-extended by shifting each to the top and back.
fn i8x4(v: u32) -> vec4f {
  return vec4f(bitcast<vec4i>(vec4u(v) << vec4u(24u, 16u, 8u, 0u)) >> vec4u(24u));
}

fn w_chunk(row: u32, c: u32) -> Chunk {
  let q = w[row * p.wstride + c];
  return Chunk(i8x4(q.x), i8x4(q.y));
}
