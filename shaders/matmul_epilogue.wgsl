// Plain epilogue: columns n0 .. n0 + 3 (part-local) of output row m, those that exist, through
// store_y (bias, accumulate, sections). row_map: the rows of w whose dot products a kernel hands to
// store4(m, n0, ...), here n0 .. n0 + 3 (the kernels clamp them to the part).

fn row_map(n0: u32) -> vec4u {
  return vec4u(n0) + vec4u(0u, 1u, 2u, 3u);
}

fn store4(m: u32, n0: u32, v: vec4f) {
  store_y(m, n0, v.x);
  if (n0 + 1u < p.n) { store_y(m, n0 + 1u, v.y); }
  if (n0 + 2u < p.n) { store_y(m, n0 + 2u, v.z); }
  if (n0 + 3u < p.n) { store_y(m, n0 + 3u, v.w); }
}
