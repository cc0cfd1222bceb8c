// Embedding gather: out[m, :] = table[ids[m], :] * scale for m < step.tokens, reading the table
// in its GPU layout through the format's piece (w_value, shaders/weights_<format>.wgsl, composed
// after this file by src/kernels/embed.ts). A table larger than one binding is split into parts by
// rows; each part is its own dispatch and writes only the tokens whose id falls in its rows. The
// last part also writes zeros for ids past the table, so a bad id gives a defined row instead of
// whatever the output held. One invocation per output element.

struct Params {
  k: u32,          // values per row
  wstride: u32,    // row stride in elements of the piece's `w` array
  nb: u32,         // 32-value blocks per row
  row_start: u32,  // this part holds table rows [row_start, row_end)
  row_end: u32,
  zero_past_end: u32,
  scale: f32,
}

// What the weight pieces' w_chunk returns (as matmul_io.wgsl declares it); unused here.
struct Chunk {
  lo: vec4f,
  hi: vec4f,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

struct Element {
  write: bool,    // this part writes this element
  in_part: bool,  // false: write a zero (id past the table)
  row: u32,       // part-local row
  col: u32,
  dst: u32,
}

fn locate(wg: vec3u, lid: u32) -> Element {
  var t: Element;
  t.col = wg.x * 64u + lid;
  let m = wg.y;
  if (m >= step.tokens || t.col >= p.k) { return t; }
  let id = ids[m];
  t.in_part = id >= p.row_start && id < p.row_end;
  t.write = t.in_part || (p.zero_past_end == 1u && id >= p.row_end);
  t.row = id - p.row_start;
  t.dst = m * p.k + t.col;
  return t;
}

@compute @workgroup_size(64)
fn embed(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = locate(wg, lid);
  if (!t.write) { return; }
  var v = 0.0;
  if (t.in_part) { v = w_value(t.row, t.col); }
  out[t.dst] = v * p.scale;
}
