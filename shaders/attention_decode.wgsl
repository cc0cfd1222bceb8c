// Flash-decoding for one query token (step.tokens == 1). The KV length is cut into p.splits ranges;
// workgroup (split, head block) runs attention over its range for HPW query heads that share one kv head,
// so the block reads each K/V row once. A split writes its max m, sum l and unnormalized output to
// `part`; `reduce` rescales and combines the splits. Ranges are worked out here from step.kv_len, so the
// same bind groups serve every token. Under a sliding window the ranges cover only the window's keys.
//
// Within a split, keys go in chunks of CHUNK: all scores of a chunk are kept in workgroup memory, so the
// softmax over a chunk is exact (one max, no per-key rescaling) and costs three barriers; the running
// (m, l, output) carries across chunks. Every thread works for a single head, so no thread holds arrays
// indexed by head: CPU drivers keep loop-indexed private arrays in memory, at many times the cost.

// Per (query head, split): one vec4 (m, l, 0, 0), then DV vec4s of output relative to exp2(m).
@group(0) @binding(6) var<storage, read_write> part: array<vec4f>;

override HPW: u32 = 1u;          // query heads per workgroup, all of one kv head
override KS: u32 = WG / HPW;     // threads per head
override KG: u32 = KS / DV;      // key groups per head in the P.V phase (>= 1)
override KPT: u32 = 1u;          // keys per thread per chunk when scoring
override CHUNK: u32 = KS * KPT;

var<workgroup> qs: array<vec4f, HPW * DV>;
var<workgroup> sc: array<f32, HPW * CHUNK>;            // scores, then probabilities
var<workgroup> chunk_max: array<atomic<u32>, 2u * HPW>; // per head, for even and odd chunks
// Key groups 1..KG-1 hand their sums to key group 0 here (+1: an array may not be empty).
var<workgroup> red: array<vec4f, HPW * (KG - 1u) * DV + 1u>;
var<workgroup> red_l: array<f32, HPW * (KG - 1u) + 1u>;

// A float as a u32 of the same order, so that atomicMax finds the largest score.
fn order_key(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn from_order_key(k: u32) -> f32 {
  return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u));
}

// Keys per split: even shares rounded up to 64, so short contexts use few splits.
fn split_len(kv_len: u32) -> u32 {
  let even = (kv_len + p.splits - 1u) / p.splits;
  return (even + 63u) / 64u * 64u;
}

fn rec_base(head: u32, split: u32) -> u32 {
  return (head * p.splits + split) * (DV + 1u);
}

@compute @workgroup_size(WG)
fn split(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let kv_len = step.kv_len;
  // The splits cover the keys the query sees: [window start, kv_len), all of them without a window.
  let first = window_start(kv_len - 1u);
  let len = kv_len - first;
  let per = split_len(len);
  let start = first + wg.x * per;
  if (start >= kv_len) { return; }
  let end = min(start + per, kv_len);
  let n_active = (len + per - 1u) / per;
  let h0 = wg.y * HPW;
  let kv_base = (h0 / p.group) * p.max_ctx;

  // Roles: thread (h, r) scores keys r, r + KS, ... of head h; then, as key group kg = r / DV, it sums
  // column c = r % DV over keys kg, kg + KG, ... Threads past HPW * KS, or past KG * DV in a head, idle.
  let h = min(lid / KS, HPW - 1u);
  let r = lid % KS;
  let live = lid < HPW * KS;
  let c = r % DV;
  let kg = r / DV;
  let pv = live && kg < KG;

  for (var i = lid; i < HPW * DV; i += WG) { qs[i] = q[h0 * DV + i] * p.scale; }
  if (lid < 2u * HPW) { atomicStore(&chunk_max[lid], 0u); }
  workgroupBarrier();

  var m = NEG_BIG;
  var l = 0.0;
  var acc = vec4f(0.0);
  var parity = 0u;
  for (var c0 = start; c0 < end; c0 += CHUNK) {
    let n = min(CHUNK, end - c0);
    let row = h * CHUNK;
    if (live) {
      var lm = NEG_BIG;
      for (var j = r; j < n; j += KS) {
        let kb = (kv_base + c0 + j) * DV;
        var s = 0.0;
        for (var d = 0u; d < DV; d++) { s += dot(qs[h * DV + d], load_k(kb + d)); }
        sc[row + j] = s;
        lm = max(lm, s);
      }
      if (r < n) { atomicMax(&chunk_max[parity * HPW + h], order_key(lm)); }
      // The other parity was last read before the previous chunk's second barrier: clear it for the next chunk.
      if (r == 0u) { atomicStore(&chunk_max[(1u - parity) * HPW + h], 0u); }
    }
    workgroupBarrier();

    let m_new = max(m, from_order_key(atomicLoad(&chunk_max[parity * HPW + h])));
    let alpha = exp2(m - m_new);
    m = m_new;
    if (live) {
      for (var j = r; j < n; j += KS) { sc[row + j] = exp2(sc[row + j] - m_new); }
    }
    workgroupBarrier();

    if (pv) {
      acc *= alpha;
      l *= alpha;
      for (var j = kg; j < n; j += KG) {
        let pj = sc[row + j];
        l += pj;
        acc += pj * load_v((kv_base + c0 + j) * DV + c);
      }
    }
    parity = 1u - parity;
    if (c0 + CHUNK < end) { workgroupBarrier(); }
  }

  if (KG > 1u) {
    if (pv && kg > 0u) {
      red[(h * (KG - 1u) + kg - 1u) * DV + c] = acc;
      if (c == 0u) { red_l[h * (KG - 1u) + kg - 1u] = l; }
    }
    workgroupBarrier();
    if (pv && kg == 0u) {
      for (var g = 1u; g < KG; g++) {
        acc += red[(h * (KG - 1u) + g - 1u) * DV + c];
        l += red_l[h * (KG - 1u) + g - 1u];
      }
    }
  }
  if (!pv || kg != 0u) { return; }
  let head = h0 + h;
  if (n_active == 1u) {
    // A single split is the whole answer: no reduce pass.
    out[head * DV + c] = acc / l;
  } else {
    let rb = rec_base(head, wg.x);
    part[rb + 1u + c] = acc;
    if (c == 0u) { part[rb] = vec4f(m, l, 0.0, 0.0); }
  }
}

// One workgroup per query head: rescale each split to the common max and normalize.
@compute @workgroup_size(WG)
fn reduce(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let len = step.kv_len - window_start(step.kv_len - 1u);
  let per = split_len(len);
  let n_active = (len + per - 1u) / per;
  if (n_active <= 1u) { return; }
  let head = wg.x;
  var mx = NEG_BIG;
  for (var s = 0u; s < n_active; s++) { mx = max(mx, part[rec_base(head, s)].x); }
  var l = 0.0;
  for (var s = 0u; s < n_active; s++) {
    let st = part[rec_base(head, s)];
    l += st.y * exp2(st.x - mx);
  }
  let inv = 1.0 / l;
  for (var c = lid; c < DV; c += WG) {
    var acc = vec4f(0.0);
    for (var s = 0u; s < n_active; s++) {
      let rb = rec_base(head, s);
      acc += part[rb + 1u + c] * exp2(part[rb].x - mx);
    }
    out[head * DV + c] = acc * inv;
  }
}
