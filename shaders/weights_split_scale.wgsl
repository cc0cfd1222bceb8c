// Blocks whose f16 scale d was split from their words at load (q8_0, q4_0, q5_0, q6_k: see
// src/gpu/weights.ts): one f16 per block, two per word, block i of the part at index i.
@group(0) @binding(4) var<storage, read> scales: array<u32>;

fn split_scale(i: u32) -> f32 {
  return unpack2x16float(scales[i / 2u] >> ((i & 1u) * 16u)).x;
}
