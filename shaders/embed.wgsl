// Embedding gather: out[m, :] = table[ids[m], :] * scale for m < step.tokens, dequantizing the
// table from its GPU layout (src/gpu/weights.ts). A table larger than one binding is split
// into parts by rows; each part is its own dispatch and writes only the tokens whose id falls
// in its rows. The last part also writes zeros for ids past the table, so a bad id gives a
// defined row instead of whatever the output held.
// One entry point per format; one invocation per output element.

struct Params {
  cols: u32,
  stride: u32,     // u32 words per row
  row_start: u32,  // this part holds table rows [row_start, row_end)
  row_end: u32,
  zero_past_end: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read> data: array<u32>;
@group(0) @binding(4) var<storage, read> scales: array<u32>;  // q8_0, q4_0: f16 per 32-block
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
  if (m >= step.tokens || t.col >= p.cols) { return t; }
  let id = ids[m];
  t.in_part = id >= p.row_start && id < p.row_end;
  t.write = t.in_part || (p.zero_past_end == 1u && id >= p.row_end);
  t.row = id - p.row_start;
  t.dst = m * p.cols + t.col;
  return t;
}

fn block_scale(row: u32, block: u32) -> f32 {
  let i = row * (p.cols / 32u) + block;
  return unpack2x16float(scales[i / 2u])[i & 1u];
}

fn load_f32(row: u32, col: u32) -> f32 {
  return bitcast<f32>(data[row * p.stride + col]);
}

fn load_f16(row: u32, col: u32) -> f32 {
  return unpack2x16float(data[row * p.stride + col / 2u])[col & 1u];
}

fn load_q8_0(row: u32, col: u32) -> f32 {
  let b = col / 32u;
  let j = col % 32u;
  let w = data[row * p.stride + b * 8u + j / 4u];
  let q = extractBits(bitcast<i32>(w), (j % 4u) * 8u, 8u);  // sign-extends the int8
  return block_scale(row, b) * f32(q);
}

fn load_q4_0(row: u32, col: u32) -> f32 {
  let b = col / 32u;
  let j = col % 32u;
  // byte j % 16 of the block holds element j (< 16) in its low nibble, j + 16 in its high one
  let byte = extractBits(data[row * p.stride + b * 4u + (j % 16u) / 4u], (j % 4u) * 8u, 8u);
  let q = select(byte & 15u, byte >> 4u, j >= 16u);
  return block_scale(row, b) * (f32(q) - 8.0);
}

@compute @workgroup_size(64)
fn embed_f32(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = locate(wg, lid);
  if (!t.write) { return; }
  var v = 0.0;
  if (t.in_part) { v = load_f32(t.row, t.col); }
  out[t.dst] = v * p.scale;
}

@compute @workgroup_size(64)
fn embed_f16(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = locate(wg, lid);
  if (!t.write) { return; }
  var v = 0.0;
  if (t.in_part) { v = load_f16(t.row, t.col); }
  out[t.dst] = v * p.scale;
}

@compute @workgroup_size(64)
fn embed_q8_0(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = locate(wg, lid);
  if (!t.write) { return; }
  var v = 0.0;
  if (t.in_part) { v = load_q8_0(t.row, t.col); }
  out[t.dst] = v * p.scale;
}

@compute @workgroup_size(64)
fn embed_q4_0(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = locate(wg, lid);
  if (!t.write) { return; }
  var v = 0.0;
  if (t.in_part) { v = load_q4_0(t.row, t.col); }
  out[t.dst] = v * p.scale;
}
