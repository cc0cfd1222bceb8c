// f16 weights: two halves per u32 (low half first), rows padded to a multiple of 8 halves;
// one vec4<u32> (8 halves) per chunk, unpacked without shader-f16. (Interface: weights_f32.wgsl.)
@group(0) @binding(3) var<storage, read> w: array<vec4u>;

const CHUNK_ELEMS: u32 = 8u;
const CHUNK_HAS_HI: bool = true;
const CHUNKS_PER_BLOCK: u32 = 4u;
const HAS_MIN: bool = false;

fn w_scale(row: u32, block: u32) -> f32 {
  return 1.0;
}

fn w_min(row: u32, block: u32) -> f32 {
  return 0.0;
}

fn chunk_k(c: u32) -> vec2u {
  return vec2u(c * 8u, c * 8u + 4u);
}

fn w_chunk(row: u32, c: u32) -> Chunk {
  let q = w[row * p.wstride + c];
  return Chunk(
    vec4f(unpack2x16float(q.x), unpack2x16float(q.y)),
    vec4f(unpack2x16float(q.z), unpack2x16float(q.w)),
  );
}

fn w_value(row: u32, col: u32) -> f32 {
  return unpack2x16float(w[row * p.wstride + col / 8u][(col % 8u) / 2u])[col & 1u];
}
