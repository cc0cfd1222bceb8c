// Sampling one token from a row of logits [vocab] (src/kernels/sample.ts; reference:
// src/reference/sample.ts). Passes, in order; the TS side skips the ones a request turns off:
//
//   prepare       per chunk   penalties and temperature -> z; per-chunk max and sum of exp,
//                             for z and for the raw logits
//   combine       1 group     global max and log-sum-exp; clears the search histograms
//   search_level  per chunk   x8: radix select on an order-preserving u32 key of z, 8 bits a
//                             level. Levels 0-3 find the top-k cutoff (the k-th largest z),
//                             levels 4-7 the top-p cutoff (the smallest z whose tokens from the
//                             top hold top_p of the top-k set's probability)
//   pick          per chunk   argmax of z + Gumbel noise over the tokens with z >= cutoff
//   top_raw       per chunk   the chunk's best top_n raw logits, for top logprobs
//   finish        1 group     the winner, its logprob, the top logprobs; its count += 1
//
// Each search level resolves the previous level's histogram (a scan of 256 bins) into the
// state it starts from. With FOLDED (GPUs) every workgroup of search_level and pick does that
// itself, saving a dependent dispatch per level; without (CPU drivers, where each barrier of a
// workgroup costs milliseconds), one workgroup does it in select_level / select_final before.
//
// Gumbel-max turns sampling into an argmax: argmax(z_i + g_i) with g_i = -log(-log(u_i)) picks i
// with probability softmax(z)_i, and the per-token u_i come from a counter-based hash of
// (seed, i), so the draw is deterministic and fully parallel, with no prefix sums to rescan.

// Threads per workgroup: 256 (BINS: every pass but greedy keeps it); the one-launch greedy pass runs
// 16 on CPU drivers (src/kernels/sample.ts), with LANES = 4.
override WG: u32 = 256u;
// Tokens per invocation. Small on GPUs, to spread a vocabulary over many workgroups; large on
// CPU drivers, where every invocation of a kernel with barriers costs microseconds.
override PER_THREAD: u32 = 4u;
override CHUNK: u32 = WG * PER_THREAD; // tokens per workgroup
override FOLDED: bool = true;
const BINS: u32 = 256u;   // one radix digit of 8 bits; equal to WG, so one bin per invocation
const HEADS: u32 = 4u;    // chunk lists per invocation in finish: vocab <= HEADS * WG * CHUNK
const NONE: u32 = 0xffffffffu;
const NEG: f32 = -3.40282346638528859812e+38f; // lowest f32: -inf and NaN logits become this
const TOPK_LEVEL0: u32 = 0u;
const TOPP_LEVEL0: u32 = 4u;

struct Params {
  vocab: u32,
  chunks: u32,
  top_k: u32,
  top_n: u32,      // top logprobs to return
  max_top: u32,    // candidates stored per chunk
  use_topk: u32,
  use_topp: u32,
  use_minp: u32,
  greedy: u32,
  inv_temp: f32,
  top_p: f32,
  min_p_log: f32,  // ln(min_p)
  rep: f32,
  inv_rep: f32,
  freq: f32,
  pres: f32,
}

struct ChunkStat { zmax: f32, zsum: f32, rmax: f32, rsum: f32 }

// Where one radix-select search stands before a level.
struct Search {
  prefix: u32,  // the high key bits fixed so far, 8 per level done
  rank: u32,    // top-k: the rank of the cutoff among the tokens under the prefix (1 = largest)
  floor: u32,   // only keys >= floor take part (top-p works inside the top-k set)
  above: f32,   // mass of the taking-part tokens with keys above every key under the prefix
  goal: f32,    // top-p: the mass the kept set must reach
  incl: f32,    // once resolved: `above` plus the mass of the chosen bin
  _pad0: u32,
  _pad1: u32,
}

struct State {
  zmax: f32,
  zsum: f32,    // sum of exp(z - zmax)
  rmax: f32,
  rlse: f32,    // log-sum-exp of the raw logits
  cut: u32,     // key of the final cutoff (for tests and debugging)
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  search: array<Search, 8>,
}

struct Scored { value: f32, index: u32 }
struct TopEntry { id: u32, logprob: f32 }

struct SampleOut {
  token: u32,
  logprob: f32,
  count: u32,
  cut: u32,
  top: array<TopEntry>,
}

struct LevelIndex { index: u32 }
struct AddParams { n: u32 }

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read_write> counts: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> z: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<ChunkStat>;
@group(0) @binding(6) var<storage, read_write> state: State;
// [8 levels][BINS] x (count, mass low word, mass high word); mass in 64-bit fixed point
@group(0) @binding(7) var<storage, read_write> hist: array<atomic<u32>>;
@group(0) @binding(8) var<storage, read_write> best: array<Scored>;
@group(0) @binding(9) var<storage, read_write> cands: array<Scored>;
@group(0) @binding(10) var<storage, read_write> result: SampleOut;
@group(0) @binding(11) var<uniform> lvl: LevelIndex;
@group(0) @binding(12) var<storage, read> ids: array<u32>;
@group(0) @binding(13) var<uniform> add: AddParams;
// Constrained decoding: word 0 is 1 when a mask is on; then bit (i & 31) of word 1 + (i >> 5) is
// set when token i is allowed. A disallowed token's logit counts as NEG everywhere (z, the
// log-sum-exp that logprobs are taken against, top logprobs), before every sampling mode.
@group(0) @binding(14) var<storage, read> mask: array<u32>;

var<workgroup> red_v: array<f32, WG>;
var<workgroup> red_i: array<u32, WG>;
var<workgroup> red4: array<vec4f, WG>;
var<workgroup> scan_c: array<u32, WG>;
var<workgroup> scan_m: array<f32, WG>;
var<workgroup> part_c: array<u32, LANES>;
var<workgroup> part_m: array<f32, LANES>;
var<workgroup> found: Search;
var<workgroup> local_hist: array<atomic<u32>, 768>; // BINS * 3

// ---- values and keys ----

// NaN and infinities would poison max/exp arithmetic; clamp them to the finite range.
fn clean(x: f32) -> f32 {
  if ((bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u) { return NEG; }
  return clamp(x, NEG, -NEG);
}

// Unsigned order matches float order; -0 is folded onto +0 so equal values share a key.
fn key_of(x: f32) -> u32 {
  var b = bitcast<u32>(x);
  if (b == 0x80000000u) { b = 0u; }
  if ((b & 0x80000000u) != 0u) { return ~b; }
  return b | 0x80000000u;
}

fn allowed(i: u32) -> bool {
  return mask[0] == 0u || ((mask[1u + (i >> 5u)] >> (i & 31u)) & 1u) == 1u;
}

// The logit of token i as sampling sees it: cleaned, and NEG when the mask rules it out.
fn logit_of(i: u32) -> f32 {
  if (!allowed(i)) { return NEG; }
  return clean(logits[i]);
}

fn penalized(x: f32, n: u32) -> f32 {
  if (n == 0u) { return x; }
  let y = select(x * p.rep, x * p.inv_rep, x > 0.0);
  return y - (f32(n) * p.freq + p.pres);
}

// (max, sum of exp(x - max)) of two sets
fn merge(a: vec2f, b: vec2f) -> vec2f {
  let m = max(a.x, b.x);
  return vec2f(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

// (max, sum) with one more value x: one exp instead of merge's two
fn push(a: vec2f, x: f32) -> vec2f {
  if (x > a.x) { return vec2f(x, a.y * exp(a.x - x) + 1.0); }
  return vec2f(a.x, a.y + exp(x - a.x));
}

// Larger value first; among equal values the lower index; NONE is never better.
fn better(av: f32, ai: u32, bv: f32, bi: u32) -> bool {
  return ai != NONE && (bi == NONE || av > bv || (av == bv && ai < bi));
}

// ---- random numbers ----

// PCG hash (Jarzynski and Olano, "Hash Functions for GPU Rendering", 2020): a permutation of u32.
fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}

// 1/k for k = 1..11, rounded once to f32 (a runtime division may be off by 2.5 ulp)
const INV_K = array<f32, 11>(1.0, 1.0 / 2.0, 1.0 / 3.0, 1.0 / 4.0, 1.0 / 5.0, 1.0 / 6.0, 1.0 / 7.0, 1.0 / 8.0, 1.0 / 9.0, 1.0 / 10.0, 1.0 / 11.0);

// Gumbel noise for token i under this step's seed.
fn gumbel(seed: u32, i: u32) -> f32 {
  let h = pcg(pcg(seed) ^ i);
  let u = (f32(h >> 9u) + 0.5) * 0x1p-23f; // in (0, 1), exact
  var e: f32; // -log(u), an Exp(1) draw
  if (u > 0.75) {
    // WGSL promises log() only to 2^-21 absolute near 1, which would wreck the small e that
    // gives the largest noise; -log(1 - w) = w + w^2/2 + w^3/3 + ... keeps it accurate.
    let w = 1.0 - u;
    var acc = INV_K[10];
    for (var k = 9; k >= 0; k--) { acc = INV_K[k] + w * acc; }
    e = w * acc;
  } else {
    e = -log(u);
  }
  return -log(e);
}

// ---- workgroup reductions (every invocation must call them) ----
// In two serial steps of LANES over WG = LANES * LANES values rather than a log2(WG)-step tree:
// two barriers instead of eight, which CPU drivers (SwiftShader) pay dearly for, and a fixed
// order of operations, so float results do not vary between runs.

override LANES: u32 = 16u; // sqrt(WG)

var<workgroup> part_v: array<f32, LANES>;
var<workgroup> part_i: array<u32, LANES>;
var<workgroup> part4: array<vec4f, LANES>;

fn argmax_wg(lid: u32, v: f32, i: u32) -> Scored {
  red_v[lid] = v;
  red_i[lid] = i;
  workgroupBarrier();
  if (lid < LANES) {
    var bv = red_v[lid * LANES];
    var bi = red_i[lid * LANES];
    for (var k = 1u; k < LANES; k++) {
      let j = lid * LANES + k;
      if (better(red_v[j], red_i[j], bv, bi)) {
        bv = red_v[j];
        bi = red_i[j];
      }
    }
    part_v[lid] = bv;
    part_i[lid] = bi;
  }
  workgroupBarrier();
  // every invocation finishes the reduction itself: no third barrier to broadcast it
  var bv = part_v[0];
  var bi = part_i[0];
  for (var k = 1u; k < LANES; k++) {
    if (better(part_v[k], part_i[k], bv, bi)) {
      bv = part_v[k];
      bi = part_i[k];
    }
  }
  return Scored(bv, bi);
}

fn merge4(a: vec4f, b: vec4f) -> vec4f {
  return vec4f(merge(a.xy, b.xy), merge(a.zw, b.zw));
}

// merges (max, sum) pairs for z in .xy and for the raw logits in .zw
fn stats_wg(lid: u32, v: vec4f) -> vec4f {
  red4[lid] = v;
  workgroupBarrier();
  if (lid < LANES) {
    var acc = red4[lid * LANES];
    for (var k = 1u; k < LANES; k++) { acc = merge4(acc, red4[lid * LANES + k]); }
    part4[lid] = acc;
  }
  workgroupBarrier();
  var acc = part4[0];
  for (var k = 1u; k < LANES; k++) { acc = merge4(acc, part4[k]); }
  return acc;
}

// ---- the threshold search ----

fn fixed_mass(lo: u32, hi: u32) -> f32 {
  return (f32(hi) * 4294967296.0 + f32(lo)) * 0x1p-40f;
}

// Whether the bins from the top down to this one (count c, mass m) are enough.
fn reached(s: u32, cur: Search, c: u32, m: f32, total: u32) -> bool {
  if (c == total) { return true; } // every taking-part token: always enough
  if (s < TOPP_LEVEL0) { return c >= cur.rank; }
  return c >= 1u && cur.above + m >= cur.goal;
}

// Resolve level s from its histogram: pick the digit of the bin where `reached` first holds,
// scanning down from the largest keys. Invocation lid takes bin BINS-1-lid, so a prefix sum
// over lid is a suffix sum over bins.
fn advance(s: u32, lid: u32) -> Search {
  let cur = state.search[s];
  let bin = BINS - 1u - lid;
  let base = (s * BINS + bin) * 3u;
  scan_c[lid] = atomicLoad(&hist[base]);
  scan_m[lid] = fixed_mass(atomicLoad(&hist[base + 1u]), atomicLoad(&hist[base + 2u]));
  workgroupBarrier();
  // inclusive scan within runs of LANES, then each invocation adds the totals of the runs before
  if (lid < LANES) {
    var c = 0u;
    var m = 0.0;
    for (var k = 0u; k < LANES; k++) {
      c += scan_c[lid * LANES + k];
      m += scan_m[lid * LANES + k];
      scan_c[lid * LANES + k] = c;
      scan_m[lid * LANES + k] = m;
    }
    part_c[lid] = c;
    part_m[lid] = m;
  }
  workgroupBarrier();
  let run = lid / LANES;
  var c_before = 0u; // the runs before this one
  var m_before = 0.0;
  var total = 0u;
  for (var k = 0u; k < LANES; k++) {
    if (k < run) {
      c_before += part_c[k];
      m_before += part_m[k];
    }
    total += part_c[k];
  }
  let first = lid % LANES == 0u;
  let prev = max(lid, 1u) - 1u;
  let c_here = scan_c[lid] + c_before;
  let m_here = scan_m[lid] + m_before;
  // the bins above this one
  let c_above = select(scan_c[prev] + c_before, c_before, first);
  let m_above = select(scan_m[prev] + m_before, m_before, first);
  let here = reached(s, cur, c_here, m_here, total);
  let before = lid > 0u && reached(s, cur, c_above, m_above, total);
  if (here && !before) {
    found = Search((cur.prefix << 8u) | bin, cur.rank - c_above, cur.floor, cur.above + m_above, cur.goal, cur.above + m_here, 0u, 0u);
  }
  workgroupBarrier();
  let r = found;
  workgroupBarrier();
  return r;
}

// The search state level s starts from.
fn level_start(s: u32, lid: u32) -> Search {
  if (s == TOPK_LEVEL0) {
    return Search(0u, p.top_k, 0u, 0.0, 0.0, 0.0, 0u, 0u);
  }
  if (s == TOPP_LEVEL0) {
    var floor = 0u;
    var mass = state.zsum;
    if (p.use_topk == 1u) {
      let k = advance(TOPP_LEVEL0 - 1u, lid);
      floor = k.prefix;
      mass = k.incl;
    }
    return Search(0u, 1u, floor, 0.0, p.top_p * mass, 0.0, 0u, 0u);
  }
  return advance(s - 1u, lid);
}

// Histogram masses are 64-bit fixed point in 2^-40 units, as (low, high) u32 pairs: integer
// sums do not depend on the order of the adds, so every run builds the same histogram.
fn fixed_of(v: f32) -> vec2u {
  let scaled = v * 256.0; // v in [0, 1]: the high word takes the bits above 2^-8
  let hi = floor(scaled);
  return vec2u(u32((scaled - hi) * 4294967296.0), u32(hi));
}

fn add64(a: vec2u, b: vec2u) -> vec2u {
  let lo = a.x + b.x;
  return vec2u(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}

// A run of one invocation's tokens in one bin, added to the workgroup histogram at once: at the
// first level nearly every token lands in a handful of bins, and atomics on one address queue.
struct Run { bin: u32, count: u32, mass: vec2u }

fn flush_run(r: Run, with_mass: bool) {
  if (r.count == 0u) { return; }
  atomicAdd(&local_hist[r.bin * 3u], r.count);
  if (with_mass) {
    // the old low word returned tells whether this add carried
    let old = atomicAdd(&local_hist[r.bin * 3u + 1u], r.mass.x);
    atomicAdd(&local_hist[r.bin * 3u + 2u], r.mass.y + select(0u, 1u, old + r.mass.x < old));
  }
}

// ---- entry points ----

@compute @workgroup_size(WG)
fn prepare(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  var zs = vec2f(NEG, 0.0);
  var rs = vec2f(NEG, 0.0);
  for (var j = 0u; j < PER_THREAD; j++) {
    let i = wg.x * CHUNK + j * WG + lid;
    if (i < p.vocab) {
      let x = logit_of(i);
      let zi = clamp(penalized(x, atomicLoad(&counts[i])) * p.inv_temp, NEG, -NEG);
      z[i] = zi;
      zs = push(zs, zi);
      rs = push(rs, x);
    }
  }
  let t = stats_wg(lid, vec4f(zs, rs));
  if (lid == 0u) { stats[wg.x] = ChunkStat(t.x, t.y, t.z, t.w); }
}

@compute @workgroup_size(WG)
fn combine(@builtin(local_invocation_index) lid: u32) {
  var acc = vec4f(NEG, 0.0, NEG, 0.0);
  for (var c = lid; c < p.chunks; c += WG) {
    let s = stats[c];
    acc = vec4f(merge(acc.xy, vec2f(s.zmax, s.zsum)), merge(acc.zw, vec2f(s.rmax, s.rsum)));
  }
  let t = stats_wg(lid, acc);
  if (lid == 0u) {
    state.zmax = t.x;
    state.zsum = t.y;
    state.rmax = t.z;
    state.rlse = t.z + log(t.w);
  }
  for (var w = lid; w < arrayLength(&hist); w += WG) { atomicStore(&hist[w], 0u); }
}

@compute @workgroup_size(WG)
fn search_level(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let s = lvl.index;
  var cur: Search;
  if (FOLDED) {
    cur = level_start(s, lid);
    if (wg.x == 0u && lid == 0u) { state.search[s] = cur; }
  } else {
    cur = state.search[s];
  }
  atomicStore(&local_hist[lid * 3u], 0u);
  atomicStore(&local_hist[lid * 3u + 1u], 0u);
  atomicStore(&local_hist[lid * 3u + 2u], 0u);
  workgroupBarrier();

  let depth = s % 4u; // key bytes already fixed
  let zmax = state.zmax;
  // top-k needs masses only to hand top-p the mass of its set
  let with_mass = s >= TOPP_LEVEL0 || p.use_topp == 1u;
  var run = Run(0u, 0u, vec2u(0u));
  for (var j = 0u; j < PER_THREAD; j++) {
    let i = wg.x * CHUNK + j * WG + lid;
    if (i < p.vocab) {
      let zi = z[i];
      let k = key_of(zi);
      if (k >= cur.floor && (depth == 0u || (k >> (32u - 8u * depth)) == cur.prefix)) {
        let d = (k >> (24u - 8u * depth)) & 0xffu;
        if (d != run.bin) {
          flush_run(run, with_mass);
          run = Run(d, 0u, vec2u(0u));
        }
        run.count += 1u;
        if (with_mass) { run.mass = add64(run.mass, fixed_of(exp(zi - zmax))); }
      }
    }
  }
  flush_run(run, with_mass);
  workgroupBarrier();

  let n = atomicLoad(&local_hist[lid * 3u]);
  if (n > 0u) {
    let base = (s * BINS + lid) * 3u;
    let lo = atomicLoad(&local_hist[lid * 3u + 1u]);
    let hi = atomicLoad(&local_hist[lid * 3u + 2u]);
    atomicAdd(&hist[base], n);
    let old = atomicAdd(&hist[base + 1u], lo);
    atomicAdd(&hist[base + 2u], hi + select(0u, 1u, old + lo < old)); // carry, as in flush_run
  }
}

// The key every kept token reaches: the largest of the cutoffs in use.
fn final_cut(lid: u32) -> u32 {
  var cut = 0u;
  if (p.use_topp == 1u) {
    cut = advance(TOPP_LEVEL0 + 3u, lid).prefix; // at least the top-k cutoff, its floor
  } else if (p.use_topk == 1u) {
    cut = advance(TOPK_LEVEL0 + 3u, lid).prefix;
  }
  if (p.use_minp == 1u) { cut = max(cut, key_of(state.zmax + p.min_p_log)); }
  return cut;
}

@compute @workgroup_size(WG)
fn select_level(@builtin(local_invocation_index) lid: u32) {
  let cur = level_start(lvl.index, lid);
  if (lid == 0u) { state.search[lvl.index] = cur; }
}

@compute @workgroup_size(WG)
fn select_final(@builtin(local_invocation_index) lid: u32) {
  let cut = final_cut(lid);
  if (lid == 0u) { state.cut = cut; }
}

@compute @workgroup_size(WG)
fn pick(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  var cut: u32;
  if (FOLDED) {
    cut = final_cut(lid);
    if (wg.x == 0u && lid == 0u) { state.cut = cut; }
  } else {
    cut = state.cut;
  }

  var bv = NEG;
  var bi = NONE;
  for (var j = 0u; j < PER_THREAD; j++) {
    let i = wg.x * CHUNK + j * WG + lid;
    if (i < p.vocab) {
      let zi = z[i];
      if (key_of(zi) >= cut && allowed(i)) {
        var v = zi;
        if (p.greedy == 0u) { v = zi + gumbel(step.seed, i); }
        if (better(v, i, bv, bi)) {
          bv = v;
          bi = i;
        }
      }
    }
  }
  let w = argmax_wg(lid, bv, bi);
  if (lid == 0u) { best[wg.x] = w; }
}

@compute @workgroup_size(WG)
fn top_raw(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  // A tournament: each round takes the best head over the workgroup. An invocation's head is
  // its best token ranking below the last one it gave up, found again by rescanning its tokens
  // (no private array: its length would have to be a constant).
  var has_last = false;
  var last_v = 0.0;
  var last_i = 0u;
  for (var r = 0u; r < p.top_n; r++) {
    var v = NEG;
    var id = NONE;
    for (var j = 0u; j < PER_THREAD; j++) {
      let i = wg.x * CHUNK + j * WG + lid;
      if (i < p.vocab) {
        let x = logit_of(i);
        if ((!has_last || better(last_v, last_i, x, i)) && better(x, i, v, id)) {
          v = x;
          id = i;
        }
      }
    }
    let w = argmax_wg(lid, v, id);
    if (id != NONE && w.index == id) {
      has_last = true;
      last_v = v;
      last_i = id;
    }
    if (lid == 0u) { cands[wg.x * p.max_top + r] = w; }
  }
}

@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_index) lid: u32) {
  var bv = NEG;
  var bi = NONE;
  for (var c = lid; c < p.chunks; c += WG) {
    let b = best[c];
    if (better(b.value, b.index, bv, bi)) {
      bv = b.value;
      bi = b.index;
    }
  }
  let w = argmax_wg(lid, bv, bi);
  let rlse = state.rlse;
  if (lid == 0u) {
    let token = select(w.index, 0u, w.index == NONE);
    result.token = token;
    result.logprob = logit_of(token) - rlse;
    result.count = p.top_n;
    result.cut = state.cut;
    atomicAdd(&counts[token], 1u);
  }

  // Merge the chunks' sorted candidate lists: invocation lid holds lists lid, lid + WG, ...
  var heads: array<u32, HEADS>;
  for (var r = 0u; r < p.top_n; r++) {
    var v = NEG;
    var id = NONE;
    var owner = 0u;
    for (var h = 0u; h < HEADS; h++) {
      let c = lid + h * WG;
      if (c < p.chunks && heads[h] < p.top_n) {
        let e = cands[c * p.max_top + heads[h]];
        if (better(e.value, e.index, v, id)) {
          v = e.value;
          id = e.index;
          owner = h;
        }
      }
    }
    let t = argmax_wg(lid, v, id);
    if (id != NONE && t.index == id) { heads[owner]++; }
    if (lid == 0u) { result.top[r] = TopEntry(t.index, t.value - rlse); }
  }
}

@compute @workgroup_size(WG)
fn add_counts(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * 65535u * WG;
  if (i < add.n) {
    let id = ids[i];
    if (id < p.vocab) { atomicAdd(&counts[id], 1u); }
  }
}
