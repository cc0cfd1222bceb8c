// Packed-byte helpers shared by the quantized weight pieces that offset their values.

// Four bytes less `o` each (values >= o stay, smaller ones wrap to negative int8), with no borrow
// across bytes: every byte is lifted by 0x80 first.
fn sub_bytes(v: u32, o: u32) -> u32 {
  return ((v | 0x80808080u) - o * 0x01010101u) ^ 0x80808080u;
}

// Four little-endian bytes of a word as values 0..255.
fn u8x4(v: u32) -> vec4f {
  return vec4f((vec4u(v) >> vec4u(0u, 8u, 16u, 24u)) & vec4u(255u));
}

// A chunk of unsigned packed values less `o`: as floats, and as packed int8.
fn chunk_less(q: vec2u, o: f32) -> Chunk {
  return Chunk(u8x4(q.x) - o, u8x4(q.y) - o);
}

fn i8_less(q: vec2u, o: u32) -> vec2u {
  return vec2u(sub_bytes(q.x, o), sub_bytes(q.y, o));
}

// Masked chunks (w_chunk_masked, for the CPU drivers' register GEMV): a word's four values left
// in place and masked, so each costs one AND and one conversion (no shift, no offset); the x
// values they meet are scaled by MASK_POS to undo the place, and a format's constant offset
// (MASK_OFFSET) joins the block's min.
const NIBBLE_MASK = vec4i(0xf, 0xf00, 0xf0000, 0xf000000);
const NIBBLE_POS = vec4f(1.0, 1.0 / 256.0, 1.0 / 65536.0, 1.0 / 16777216.0);
// bytes_masked's places (its top byte comes down to the bottom).
const BYTE_POS = vec4f(1.0, 1.0 / 256.0, 1.0 / 65536.0, 1.0);

// The low nibble of each byte of `q`, each times 256^i.
fn nibbles_masked(q: u32) -> vec4f {
  return vec4f(vec4i(bitcast<i32>(q)) & NIBBLE_MASK);
}

// The four bytes of `q`, unsigned, each times 256^i but the top one (the sign bit stays clear).
fn bytes_masked(q: u32) -> vec4f {
  let v = bitcast<i32>(q);
  return vec4f(vec4i(v & 0xff, v & 0xff00, v & 0xff0000, bitcast<i32>(q >> 24u)));
}
