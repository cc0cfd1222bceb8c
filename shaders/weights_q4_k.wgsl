// q4_k (ggml Q4_K) weights: super-blocks of 256 values in 36 words as stored: d and dmin, the
// packed scales (weights_k_scales.wgsl), then 128 bytes of nibbles where each 64 values share 32
// bytes (sub-block 2i in the low nibbles, 2i + 1 in the high ones). A chunk is 8 consecutive
// values of one sub-block (2 words of nibbles). (Interface: weights_f32.wgsl.)
@group(0) @binding(3) var<storage, read> w: array<u32>;

const K_WORDS: u32 = 36u;

fn w_chunk_i8(row: u32, c: u32) -> vec2u {
  let s = (c % 32u) / 4u;
  let at = row * p.wstride + (c / 32u) * K_WORDS + 4u + (s / 2u) * 8u + (c % 4u) * 2u;
  let sh = (s & 1u) * 4u;
  return vec2u((w[at] >> sh) & 0x0f0f0f0fu, (w[at + 1u] >> sh) & 0x0f0f0f0fu);
}

fn w_value(row: u32, col: u32) -> f32 {
  let v = col % 256u;
  let s = v / 32u;
  let l = v % 32u;
  let base = row * p.wstride + (col / 256u) * K_WORDS;
  let q = extractBits(w[base + 4u + (s / 2u) * 8u + l / 4u], (l % 4u) * 8u + (s & 1u) * 4u, 4u);
  return w_scale(row, col / 32u) * f32(q) + w_min(row, col / 32u);
}

const MASK_POS = NIBBLE_POS;
const MASK_OFFSET: f32 = 0.0;

fn w_chunk_masked(row: u32, c: u32) -> Chunk {
  let s = (c % 32u) / 4u;
  let at = row * p.wstride + (c / 32u) * K_WORDS + 4u + (s / 2u) * 8u + (c % 4u) * 2u;
  let sh = (s & 1u) * 4u;
  return Chunk(nibbles_masked(w[at] >> sh), nibbles_masked(w[at + 1u] >> sh));
}
