// Greedy sampling of several logits rows at once (batched decoding): one workgroup per row writes
// the row's argmax (the lower index on ties, as sample_greedy.wgsl picks) into ids[row].

struct Params {
  vocab: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read_write> ids: array<u32>;

const WG: u32 = 64u;
const NONE: u32 = 0xffffffffu;
var<workgroup> red_v: array<f32, WG>;
var<workgroup> red_i: array<u32, WG>;

fn better(av: f32, ai: u32, bv: f32, bi: u32) -> bool {
  return ai != NONE && (bi == NONE || av > bv || (av == bv && ai < bi));
}

@compute @workgroup_size(WG)
fn argmax_rows(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = wg.x;
  if (r >= step.tokens) { return; }
  var bv = -3.0e38;
  var bi = NONE;
  for (var i = lid; i < p.vocab; i += WG) {
    let x = logits[r * p.vocab + i];
    if (better(x, i, bv, bi)) {
      bv = x;
      bi = i;
    }
  }
  red_v[lid] = bv;
  red_i[lid] = bi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s && better(red_v[lid + s], red_i[lid + s], red_v[lid], red_i[lid])) {
      red_v[lid] = red_v[lid + s];
      red_i[lid] = red_i[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) { ids[r] = select(red_i[0], 0u, red_i[0] == NONE); }
}
