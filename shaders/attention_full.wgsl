// Non-causal multi-head attention: every query row sees every key (Whisper's encoder
// self-attention, and its decoder's cross-attention over the window's encoder states, whose K/V are
// computed once per window). q [step.tokens, q_stride], k and v [p.kv_len, kv_stride]: head h's
// slice starts at h * head_dim in each row, after the q_off / k_off / v_off offsets (in floats).
// out [step.tokens, heads * head_dim]. One workgroup per (query, head): its WG threads take the keys
// in turn (j = lid, lid + WG, ...), each with its own online softmax, then one barrier and the WG
// partial (max, sum, output) merged, each thread finishing its share of the output's vec4s. So a
// decoder step's single query spreads over many threads, not one per head. DV (head_dim / 4) and WG
// are consts the TS owner puts in front (WG * DV vec4s of workgroup memory).

struct Params {
  heads: u32,
  kv_len: u32,
  q_stride: u32,
  kv_stride: u32,
  q_off: u32,
  k_off: u32,
  v_off: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> q: array<vec4f>;
@group(0) @binding(3) var<storage, read> k: array<vec4f>;
@group(0) @binding(4) var<storage, read> v: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4f>;

var<workgroup> wm: array<f32, WG>;
var<workgroup> wl: array<f32, WG>;
var<workgroup> wacc: array<vec4f, WG * DV>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = wg.x;
  let h = wg.y;
  if (t >= step.tokens) { return; }
  var qv: array<vec4f, DV>;
  var acc: array<vec4f, DV>;
  let qb = (p.q_off + t * p.q_stride) / 4u + h * DV;
  for (var e = 0u; e < DV; e++) { qv[e] = q[qb + e] * p.scale; acc[e] = vec4f(0.0); }
  var m = -3.0e38;
  var l = 0.0;
  for (var j = lid; j < p.kv_len; j += WG) {
    let kb = (p.k_off + j * p.kv_stride) / 4u + h * DV;
    var s = 0.0;
    for (var e = 0u; e < DV; e++) { s += dot(qv[e], k[kb + e]); }
    let m2 = max(m, s);
    let c = exp(m - m2);
    let w = exp(s - m2);
    l = l * c + w;
    let vb = (p.v_off + j * p.kv_stride) / 4u + h * DV;
    for (var e = 0u; e < DV; e++) { acc[e] = acc[e] * c + v[vb + e] * w; }
    m = m2;
  }
  // a thread that got no key holds m = -3e38, l = 0: its weight below is 0
  wm[lid] = m;
  wl[lid] = l;
  for (var e = 0u; e < DV; e++) { wacc[lid * DV + e] = acc[e]; }
  workgroupBarrier();
  var mx = -3.0e38;
  for (var i = 0u; i < WG; i++) { mx = max(mx, wm[i]); }
  var sum = 0.0;
  for (var i = 0u; i < WG; i++) { sum += wl[i] * exp(wm[i] - mx); }
  let ob = t * p.heads * DV + h * DV;
  for (var e = lid; e < DV; e += WG) {
    var o = vec4f(0.0);
    for (var i = 0u; i < WG; i++) { o += wacc[i * DV + e] * exp(wm[i] - mx); }
    out[ob + e] = o / sum;
  }
}
