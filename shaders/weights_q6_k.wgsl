// q6_k (ggml Q6_K) weights: super-blocks of 256 values in 52 words (ql[128] low nibbles, qh[64]
// high two bits, 16 int8 scales, one per 16 values) with the f16 d in its own buffer;
// value = d * scale * (q - 32) (d: weights_split_scale.wgsl). Each 128 values use 64 bytes of ql and 32 of qh: value
// 128 n + 32 k + l has the nibble (k >= 2: high) of ql[64 n + 32 (k & 1) + l] and bits 2k of
// qh[32 n + l]. A chunk is 8 consecutive values; 2 chunks share a scale. (Interface: weights_f32.wgsl.)
@group(0) @binding(3) var<storage, read> w: array<u32>;

const CHUNK_ELEMS: u32 = 8u;
const CHUNK_HAS_HI: bool = true;
const CHUNKS_PER_BLOCK: u32 = 2u;
const HAS_MIN: bool = false;

fn chunk_k(c: u32) -> vec2u {
  return vec2u(c * 8u, c * 8u + 4u);
}

// Sub-block `sb` of the row (16 values each, 16 per super-block).
fn w_scale(row: u32, sb: u32) -> f32 {
  let blk = sb / 16u;
  let d = split_scale(row * (p.nb / 8u) + blk);
  let sc = extractBits(bitcast<i32>(w[row * p.wstride + blk * 52u + 48u + (sb % 16u) / 4u]), (sb % 4u) * 8u, 8u);
  return d * f32(sc);
}

fn w_min(row: u32, sb: u32) -> f32 {
  return 0.0;
}

// The chunk's 6-bit values, unsigned (0..63), as packed bytes.
fn q6_bytes(row: u32, c: u32) -> vec2u {
  let v = (c % 32u) * 8u;
  let n = v / 128u;
  let k = (v % 128u) / 32u;
  let base = row * p.wstride + (c / 32u) * 52u;
  let ql = base + n * 16u + (k & 1u) * 8u + (v % 32u) / 4u;
  let qh = base + 32u + n * 8u + (v % 32u) / 4u;
  let sl = (k >> 1u) * 4u;
  return vec2u(
    ((w[ql] >> sl) & 0x0f0f0f0fu) | (((w[qh] >> (k * 2u)) & 0x03030303u) << 4u),
    ((w[ql + 1u] >> sl) & 0x0f0f0f0fu) | (((w[qh + 1u] >> (k * 2u)) & 0x03030303u) << 4u),
  );
}

fn w_chunk(row: u32, c: u32) -> Chunk {
  return chunk_less(q6_bytes(row, c), 32.0);
}

fn w_chunk_i8(row: u32, c: u32) -> vec2u {
  return i8_less(q6_bytes(row, c), 32u);
}

fn w_value(row: u32, col: u32) -> f32 {
  let v = col % 256u;
  let n = v / 128u;
  let k = (v % 128u) / 32u;
  let l = v % 32u;
  let base = row * p.wstride + (col / 256u) * 52u;
  let lo = extractBits(w[base + n * 16u + (k & 1u) * 8u + l / 4u], (l % 4u) * 8u + (k >> 1u) * 4u, 4u);
  let hi = extractBits(w[base + 32u + n * 8u + l / 4u], (l % 4u) * 8u + k * 2u, 2u);
  return w_scale(row, col / 16u) * (f32(lo | (hi << 4u)) - 32.0);
}

// value = d * scale * (q - 32): the 6-bit bytes in place, the -32 as an offset.
const MASK_POS = BYTE_POS;
const MASK_OFFSET: f32 = -32.0;

fn w_chunk_masked(row: u32, c: u32) -> Chunk {
  let q = q6_bytes(row, c);
  return Chunk(bytes_masked(q.x), bytes_masked(q.y));
}
