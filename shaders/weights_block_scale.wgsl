// One split-off f16 scale per 32-value block and no min (q8_0, q4_0, q5_0; composed after
// weights_split_scale.wgsl): value = d * q.
const HAS_MIN: bool = false;

fn w_scale(row: u32, block: u32) -> f32 {
  return split_scale(row * p.nb + block);
}

fn w_min(row: u32, block: u32) -> f32 {
  return 0.0;
}
