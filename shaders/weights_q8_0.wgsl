// q8_0 weights: blocks of 32 int8 (8 words) with one f16 scale each, scales in their own
// buffer (weights_split_scale.wgsl, weights_block_scale.wgsl). A chunk is 8 consecutive values (2 words); 4 chunks share a
// block's scale. (Interface: weights_f32.wgsl.)
@group(0) @binding(3) var<storage, read> w: array<vec2u>;

const CHUNK_ELEMS: u32 = 8u;
const CHUNK_HAS_HI: bool = true;
const CHUNKS_PER_BLOCK: u32 = 4u;

fn chunk_k(c: u32) -> vec2u {
  return vec2u(c * 8u, c * 8u + 4u);
}

fn w_chunk(row: u32, c: u32) -> Chunk {
  let q = w[row * p.wstride + c];
  return Chunk(i8x4(q.x), i8x4(q.y));
}

fn w_chunk_i8(row: u32, c: u32) -> vec2u {
  return w[row * p.wstride + c];
}

fn w_value(row: u32, col: u32) -> f32 {
  let q = w[row * p.wstride + col / 8u][(col % 8u) / 4u];
  return w_scale(row, col / 32u) * f32(extractBits(bitcast<i32>(q), (col % 4u) * 8u, 8u));
}

// The int8 values as unsigned bytes (q + 128, flipping each sign bit) in place; the -128 as an offset.
const MASK_POS = BYTE_POS;
const MASK_OFFSET: f32 = -128.0;

fn w_chunk_masked(row: u32, c: u32) -> Chunk {
  let q = w[row * p.wstride + c] ^ vec2u(0x80808080u);
  return Chunk(bytes_masked(q.x), bytes_masked(q.y));
}
