// Four int8 in a little-endian word: the quantized weights' and the q8 KV cache's packing.

// The four values, sign-extended by shifting each to the top and back.
fn i8x4(v: u32) -> vec4f {
  return vec4f(bitcast<vec4i>(vec4u(v) << vec4u(24u, 16u, 8u, 0u)) >> vec4u(24u));
}

// Four integral values in -128..127 packed into one word.
fn pack_i8x4(q: vec4f) -> u32 {
  let b = bitcast<vec4u>(vec4i(q)) & vec4u(255u);
  return b.x | (b.y << 8u) | (b.z << 16u) | (b.w << 24u);
}
