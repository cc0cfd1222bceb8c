// f32 weights: rows padded with zeros to a multiple of 4; one vec4 per chunk.
// Every weights_<format>.wgsl piece gives, for row `row` (part-local) of w:
//  CHUNK_ELEMS values per chunk (lo at chunk_k(c).x + 0..3, hi at chunk_k(c).y + 0..3 with
//  CHUNK_HAS_HI), CHUNKS_PER_BLOCK chunks sharing one scale and min:
//  value = w_scale(row, b) * w_chunk(row, c) + w_min(row, b) (HAS_MIN), b = c / CHUNKS_PER_BLOCK;
//  w_chunk_i8: the same chunk as packed int8 (formats with integer dot products);
//  w_chunk_masked, MASK_POS, MASK_OFFSET (formats with FormatSpec.masked; weights_unmasked.wgsl
//  otherwise): the chunk with each value left in its bit place, w_chunk = masked * MASK_POS +
//  MASK_OFFSET lane by lane (weights_bytes.wgsl);
//  w_value(row, col): one value, for the embedding lookup.
// The host shader declares `p` with k (row length), wstride (row stride in elements of `w`) and
// nb (32-value blocks per row), and struct Chunk.
@group(0) @binding(3) var<storage, read> w: array<vec4f>;

const CHUNK_ELEMS: u32 = 4u;
const CHUNK_HAS_HI: bool = false;
const CHUNKS_PER_BLOCK: u32 = 8u;
const HAS_MIN: bool = false;

fn w_scale(row: u32, block: u32) -> f32 {
  return 1.0;
}

fn w_min(row: u32, block: u32) -> f32 {
  return 0.0;
}

fn chunk_k(c: u32) -> vec2u {
  return vec2u(c * 4u, 0u);
}

fn w_chunk(row: u32, c: u32) -> Chunk {
  return Chunk(w[row * p.wstride + c], vec4f(0.0));
}

fn w_value(row: u32, col: u32) -> f32 {
  return w[row * p.wstride + col / 4u][col % 4u];
}
