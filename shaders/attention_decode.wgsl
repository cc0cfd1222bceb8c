// Flash-decoding for one query token (step.tokens == 1): the KV length is cut into p.splits ranges;
// workgroup (split, head block) runs an online softmax over its range for HPW query heads that share
// one kv head, so each K/V row is read once for the whole block. A split writes its running max m, sum l
// and unnormalized output to `part`; `reduce` rescales and combines the splits. Ranges are worked out
// here from step.kv_len, so the same bind groups serve every token.

// Per (query head, split): one vec4 (m, l, 0, 0) then DV vec4s of output, relative to exp2(m).
@group(0) @binding(6) var<storage, read_write> part: array<vec4f>;

override HPW: u32 = 1u;         // query heads per workgroup, <= MAX_H
override KG: u32 = WG / DV;     // key groups in the P.V phase: thread lid handles column lid % DV
const MAX_H = 8u;
const CK = WG;                  // keys per chunk: one per thread when scoring

var<workgroup> qs: array<vec4f, HPW * DV>;
var<workgroup> sc: array<f32, HPW * CK>;
var<workgroup> pb: array<f32, HPW * CK>;
// Key groups 1..KG-1 hand their outputs to group 0 here (+1: an array may not be empty).
var<workgroup> red: array<vec4f, (KG - 1u) * HPW * DV + 1u>;

// Keys per split: even shares rounded up to whole chunks, so short contexts use few splits.
fn split_len(kv_len: u32) -> u32 {
  let even = (kv_len + p.splits - 1u) / p.splits;
  return (even + CK - 1u) / CK * CK;
}

fn rec_base(head: u32, split: u32) -> u32 {
  return (head * p.splits + split) * (DV + 1u);
}

@compute @workgroup_size(WG)
fn split(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let kv_len = step.kv_len;
  let per = split_len(kv_len);
  let start = wg.x * per;
  if (start >= kv_len) { return; }
  let end = min(start + per, kv_len);
  let n_active = (kv_len + per - 1u) / per;
  let h0 = wg.y * HPW;
  let kv_base = (h0 / p.group) * p.max_ctx;

  for (var i = lid; i < HPW * DV; i += WG) { qs[i] = q[h0 * DV + i] * p.scale; }
  workgroupBarrier();

  let c = lid % DV;
  let kg = lid / DV;
  var m: array<f32, MAX_H>;
  var l: array<f32, MAX_H>;
  var acc: array<vec4f, MAX_H>;
  for (var h = 0u; h < HPW; h++) { m[h] = NEG_BIG; l[h] = 0.0; acc[h] = vec4f(0.0); }

  for (var c0 = start; c0 < end; c0 += CK) {
    let n = min(CK, end - c0);
    var s: array<f32, MAX_H>;
    for (var h = 0u; h < HPW; h++) { s[h] = 0.0; }
    if (lid < n) {
      let kb = (kv_base + c0 + lid) * DV;
      for (var d = 0u; d < DV; d++) {
        let kv = k_cache[kb + d];
        for (var h = 0u; h < HPW; h++) { s[h] += dot(qs[h * DV + d], kv); }
      }
    }
    for (var h = 0u; h < HPW; h++) { sc[h * CK + lid] = s[h]; }
    workgroupBarrier();

    // Every thread rescales its own accumulators, so every thread needs each head's new max:
    // a broadcast scan of the chunk's scores, identical in every thread.
    for (var h = 0u; h < HPW; h++) {
      var cm = NEG_BIG;
      for (var j = 0u; j < n; j++) { cm = max(cm, sc[h * CK + j]); }
      let m_new = max(m[h], cm);
      let alpha = exp2(m[h] - m_new);
      m[h] = m_new;
      l[h] *= alpha;
      acc[h] *= alpha;
      if (lid < n) { pb[h * CK + lid] = exp2(sc[h * CK + lid] - m_new); }
    }
    workgroupBarrier();

    for (var h = 0u; h < HPW; h++) {
      var sum = 0.0;
      for (var j = 0u; j < n; j++) { sum += pb[h * CK + j]; }
      l[h] += sum;
    }
    if (kg < KG) {
      for (var j = kg; j < n; j += KG) {
        let v = v_cache[(kv_base + c0 + j) * DV + c];
        for (var h = 0u; h < HPW; h++) { acc[h] += pb[h * CK + j] * v; }
      }
    }
    // The next chunk's first writes (sc) come after this chunk's last sc reads, which precede the
    // barrier above; its pb writes come after its first barrier. So two barriers per chunk suffice.
  }

  if (KG > 1u) {
    if (kg > 0u && kg < KG) {
      for (var h = 0u; h < HPW; h++) { red[((kg - 1u) * HPW + h) * DV + c] = acc[h]; }
    }
    workgroupBarrier();
    if (kg == 0u) {
      for (var g = 1u; g < KG; g++) {
        for (var h = 0u; h < HPW; h++) { acc[h] += red[((g - 1u) * HPW + h) * DV + c]; }
      }
    }
  }
  if (kg != 0u) { return; }
  for (var h = 0u; h < HPW; h++) {
    let head = h0 + h;
    if (n_active == 1u) {
      // A single split is the whole answer: skip the reduce pass.
      out[head * DV + c] = acc[h] / l[h];
    } else {
      let rb = rec_base(head, wg.x);
      part[rb + 1u + c] = acc[h];
      if (c == 0u) { part[rb] = vec4f(m[h], l[h], 0.0, 0.0); }
    }
  }
}

// One workgroup per query head: rescale each split to the global max and normalize.
@compute @workgroup_size(WG)
fn reduce(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let kv_len = step.kv_len;
  let per = split_len(kv_len);
  let n_active = (kv_len + per - 1u) / per;
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
