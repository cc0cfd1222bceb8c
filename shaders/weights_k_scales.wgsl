// What Q4_K and Q5_K share (composed before weights_q4_k / weights_q5_k): a super-block of K_WORDS
// words at `base` starts with the f16 d (low half) and dmin (high half), then 12 bytes holding
// eight 6-bit scales and eight 6-bit mins; value = d * scale * q - dmin * min. A chunk is 8
// consecutive values of one 32-value sub-block; the piece gives them unsigned (w_chunk_i8).

const CHUNK_ELEMS: u32 = 8u;
const CHUNK_HAS_HI: bool = true;
const CHUNKS_PER_BLOCK: u32 = 4u;
const HAS_MIN: bool = true;

fn chunk_k(c: u32) -> vec2u {
  return vec2u(c * 8u, c * 8u + 4u);
}

fn w_chunk(row: u32, c: u32) -> Chunk {
  return chunk_less(w_chunk_i8(row, c), 0.0);
}

// Byte i (0..11) of the packed scales.
fn k_byte(base: u32, i: u32) -> u32 {
  return extractBits(w[base + 1u + i / 4u], (i % 4u) * 8u, 8u);
}

// Scale and min of sub-block j (0..7), as ggml's get_scale_min_k4 unpacks them.
fn k_scale_min(base: u32, j: u32) -> vec2f {
  if (j < 4u) { return vec2f(f32(k_byte(base, j) & 63u), f32(k_byte(base, j + 4u) & 63u)); }
  let b = k_byte(base, j + 4u);
  return vec2f(f32((b & 15u) | ((k_byte(base, j - 4u) >> 6u) << 4u)), f32((b >> 4u) | ((k_byte(base, j) >> 6u) << 4u)));
}

// Sub-block `sb` of the row (32 values each, 8 per super-block).
fn w_scale(row: u32, sb: u32) -> f32 {
  let base = row * p.wstride + (sb / 8u) * K_WORDS;
  return unpack2x16float(w[base]).x * k_scale_min(base, sb % 8u).x;
}

fn w_min(row: u32, sb: u32) -> f32 {
  let base = row * p.wstride + (sb / 8u) * K_WORDS;
  return -unpack2x16float(w[base]).y * k_scale_min(base, sb % 8u).y;
}
