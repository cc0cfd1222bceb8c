// Greedy sampling of several logits rows at once (batched decoding): one workgroup per row writes
// the row's argmax (the lower index on ties, as sample_greedy.wgsl picks) and its log-probability
// (the logit less the row's log-sum-exp) into out[2 row], out[2 row + 1] (f32 bits).

struct Params {
  vocab: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

const WG: u32 = 64u;
const NONE: u32 = 0xffffffffu;
var<workgroup> red_v: array<f32, WG>;
var<workgroup> red_i: array<u32, WG>;
var<workgroup> red_m: array<f32, WG>;
var<workgroup> red_s: array<f32, WG>;

// (max, sum of exp(x - max)) of two parts merged
fn merge(am: f32, as_: f32, bm: f32, bs: f32) -> vec2f {
  let m = max(am, bm);
  return vec2f(m, as_ * exp(am - m) + bs * exp(bm - m));
}

fn better(av: f32, ai: u32, bv: f32, bi: u32) -> bool {
  return ai != NONE && (bi == NONE || av > bv || (av == bv && ai < bi));
}

@compute @workgroup_size(WG)
fn argmax_rows(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = wg.x;
  if (r >= step.tokens) { return; }
  var bv = -3.0e38;
  var bi = NONE;
  var ms = vec2f(-3.0e38, 0.0);
  for (var i = lid; i < p.vocab; i += WG) {
    let x = logits[r * p.vocab + i];
    ms = merge(ms.x, ms.y, x, 1.0);
    if (better(x, i, bv, bi)) {
      bv = x;
      bi = i;
    }
  }
  red_v[lid] = bv;
  red_i[lid] = bi;
  red_m[lid] = ms.x;
  red_s[lid] = ms.y;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s && better(red_v[lid + s], red_i[lid + s], red_v[lid], red_i[lid])) {
      red_v[lid] = red_v[lid + s];
      red_i[lid] = red_i[lid + s];
    }
    if (lid < s) {
      let t = merge(red_m[lid], red_s[lid], red_m[lid + s], red_s[lid + s]);
      red_m[lid] = t.x;
      red_s[lid] = t.y;
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let token = select(red_i[0], 0u, red_i[0] == NONE);
    out[2u * r] = token;
    out[2u * r + 1u] = bitcast<u32>(logits[r * p.vocab + token] - (red_m[0] + log(red_s[0])));
  }
}
