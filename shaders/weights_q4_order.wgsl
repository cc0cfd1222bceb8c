// q4_0's order of 32 values in 16 bytes, shared by q4_0, q4_1 and q5_0: byte j holds value j in
// its low nibble and value j + 16 in its high one. A chunk is one word of them: values j..j+3
// (low nibbles) and j+16..j+19 (high nibbles), j = 4 * (c % 4); a block's 4 chunks share its scale.
const CHUNK_ELEMS: u32 = 8u;
const CHUNK_HAS_HI: bool = true;
const CHUNKS_PER_BLOCK: u32 = 4u;

fn chunk_k(c: u32) -> vec2u {
  let k = (c / 4u) * 32u + (c % 4u) * 4u;
  return vec2u(k, k + 16u);
}

// The nibble of value j (0..31) from the word holding it.
fn q4_nibble(word: u32, j: u32) -> u32 {
  let byte = extractBits(word, (j % 4u) * 8u, 8u);
  return select(byte & 15u, byte >> 4u, j >= 16u);
}
