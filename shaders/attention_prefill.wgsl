// Flash attention for prefill (step.tokens > 1). One workgroup per (tile of BQ queries, query head).
// Each query row belongs to TPR threads; a thread keeps its share of the row's q and output, up to 8
// vec4s, in registers, so neither Q nor a score matrix ever lives in memory. Per tile of BK keys the TPR
// threads of a row combine their partial dot products into the row's scores, then run the online
// softmax (running max m, running sum l) for their share of the output.
// K and V are read straight from the cache: all rows of the workgroup read the same keys at once, which
// caches serve, and it saves the barriers of staging them (costly on CPU drivers).
// This file: the tile sizes and a thread's share of a row (Share). Then either attend (one row a
// thread, attention_prefill_row.wgsl) with tile_scores from attention_prefill_wg.wgsl or
// attention_prefill_sg.wgsl, or four rows a thread on CPU drivers (attention_prefill_rows.wgsl).

override TPR: u32 = 4u;          // threads per query row
override NV: u32 = 8u;           // vec4s of a row each thread owns: ceil(DV / TPR) <= 8 (16 with four rows a thread)
override BK: u32 = 16u;          // keys per tile, <= MAX_BK
override BQ: u32 = WG / TPR;     // query rows per workgroup
const MAX_BK = 32u;

// A thread's share of a row: the vec4 columns lane + i * TPR, i < NV, eight at a time (Share). The
// helpers below take the first slot f of the eight: 0, or 8 for the second Share of a row whose lanes
// own more than 8 vec4s (attention_prefill_rows.wgsl).
// Named vectors rather than an array: CPU drivers keep loop-indexed arrays in memory, many times slower.
struct Share { a: vec4f, b: vec4f, c: vec4f, d: vec4f, e: vec4f, f: vec4f, g: vec4f, h: vec4f }

const SHARE_ZERO = Share(vec4f(), vec4f(), vec4f(), vec4f(), vec4f(), vec4f(), vec4f(), vec4f());

// Rows split evenly over their lanes (always so for power-of-two head sizes).
override EVEN: bool = DV % TPR == 0u;

// Whether slot i of this lane's share is a column of the row. Overrides are constants once the pipeline
// is built, so for even rows this folds to a constant and the unused slots vanish.
fn has(i: u32, lane: u32) -> bool {
  return NV > i && (EVEN || lane + i * TPR < DV);
}

fn share_load_q(at: u32, lane: u32, scale: f32, f: u32) -> Share {
  var s = SHARE_ZERO;
  if (has(f + 0u, lane)) { s.a = q[at + lane + f * TPR] * scale; }
  if (has(f + 1u, lane)) { s.b = q[at + lane + (f + 1u) * TPR] * scale; }
  if (has(f + 2u, lane)) { s.c = q[at + lane + (f + 2u) * TPR] * scale; }
  if (has(f + 3u, lane)) { s.d = q[at + lane + (f + 3u) * TPR] * scale; }
  if (has(f + 4u, lane)) { s.e = q[at + lane + (f + 4u) * TPR] * scale; }
  if (has(f + 5u, lane)) { s.f = q[at + lane + (f + 5u) * TPR] * scale; }
  if (has(f + 6u, lane)) { s.g = q[at + lane + (f + 6u) * TPR] * scale; }
  if (has(f + 7u, lane)) { s.h = q[at + lane + (f + 7u) * TPR] * scale; }
  return s;
}

// This lane's part of q . k for the key whose row starts at `at`.
fn share_dot_k(s: Share, at: u32, lane: u32, f: u32) -> f32 {
  var r = 0.0;
  if (has(f + 0u, lane)) { r += dot(s.a, load_k(at + lane + f * TPR)); }
  if (has(f + 1u, lane)) { r += dot(s.b, load_k(at + lane + (f + 1u) * TPR)); }
  if (has(f + 2u, lane)) { r += dot(s.c, load_k(at + lane + (f + 2u) * TPR)); }
  if (has(f + 3u, lane)) { r += dot(s.d, load_k(at + lane + (f + 3u) * TPR)); }
  if (has(f + 4u, lane)) { r += dot(s.e, load_k(at + lane + (f + 4u) * TPR)); }
  if (has(f + 5u, lane)) { r += dot(s.f, load_k(at + lane + (f + 5u) * TPR)); }
  if (has(f + 6u, lane)) { r += dot(s.g, load_k(at + lane + (f + 6u) * TPR)); }
  if (has(f + 7u, lane)) { r += dot(s.h, load_k(at + lane + (f + 7u) * TPR)); }
  return r;
}

// s + p * v for the value row starting at `at`.
fn share_add_v(s: Share, p: f32, at: u32, lane: u32, f: u32) -> Share {
  var r = s;
  if (has(f + 0u, lane)) { r.a += p * load_v(at + lane + f * TPR); }
  if (has(f + 1u, lane)) { r.b += p * load_v(at + lane + (f + 1u) * TPR); }
  if (has(f + 2u, lane)) { r.c += p * load_v(at + lane + (f + 2u) * TPR); }
  if (has(f + 3u, lane)) { r.d += p * load_v(at + lane + (f + 3u) * TPR); }
  if (has(f + 4u, lane)) { r.e += p * load_v(at + lane + (f + 4u) * TPR); }
  if (has(f + 5u, lane)) { r.f += p * load_v(at + lane + (f + 5u) * TPR); }
  if (has(f + 6u, lane)) { r.g += p * load_v(at + lane + (f + 6u) * TPR); }
  if (has(f + 7u, lane)) { r.h += p * load_v(at + lane + (f + 7u) * TPR); }
  return r;
}

fn share_scale(s: Share, x: f32) -> Share {
  return Share(s.a * x, s.b * x, s.c * x, s.d * x, s.e * x, s.f * x, s.g * x, s.h * x);
}

fn share_store_out(s: Share, at: u32, lane: u32, f: u32) {
  if (has(f + 0u, lane)) { out[at + lane + f * TPR] = s.a; }
  if (has(f + 1u, lane)) { out[at + lane + (f + 1u) * TPR] = s.b; }
  if (has(f + 2u, lane)) { out[at + lane + (f + 2u) * TPR] = s.c; }
  if (has(f + 3u, lane)) { out[at + lane + (f + 3u) * TPR] = s.d; }
  if (has(f + 4u, lane)) { out[at + lane + (f + 4u) * TPR] = s.e; }
  if (has(f + 5u, lane)) { out[at + lane + (f + 5u) * TPR] = s.f; }
  if (has(f + 6u, lane)) { out[at + lane + (f + 6u) * TPR] = s.g; }
  if (has(f + 7u, lane)) { out[at + lane + (f + 7u) * TPR] = s.h; }
}
