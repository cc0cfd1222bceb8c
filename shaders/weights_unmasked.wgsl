// The masked-chunk interface (weights_bytes.wgsl) for formats without a cheaper masked form: the
// chunk as w_chunk gives it. Composed by src/kernels/matmul.ts after the format's piece.
const MASK_POS = vec4f(1.0);
const MASK_OFFSET: f32 = 0.0;

fn w_chunk_masked(row: u32, c: u32) -> Chunk {
  return w_chunk(row, c);
}
