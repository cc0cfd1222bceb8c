// f32 weights: rows padded with zeros to a multiple of 4; one vec4 per chunk.
@group(0) @binding(3) var<storage, read> w: array<vec4f>;

const CHUNK_ELEMS: u32 = 4u;
const CHUNK_HAS_HI: bool = false;
const CHUNKS_PER_BLOCK: u32 = 8u;

fn w_scale(row: u32, block: u32) -> f32 {
  return 1.0;
}

fn chunk_k(c: u32) -> vec2u {
  return vec2u(c * 4u, 0u);
}

fn w_chunk(row: u32, c: u32) -> Chunk {
  return Chunk(w[row * p.wstride + c], vec4f(0.0));
}
