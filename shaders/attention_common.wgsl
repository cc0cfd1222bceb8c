// Shared by the attention kernels (src/kernels/attention.ts).
// Q [tokens, n_heads, head_dim], caches [n_kv_heads, max_ctx, head_dim], out [tokens, n_heads * head_dim],
// read as vec4 (head_dim is a multiple of 4): Q and out f32, the caches through load_k / load_v
// (attention_kv_f32.wgsl or attention_kv_f16.wgsl, bindings 3 and 4). Query head h reads kv head h / group.

struct Params {
  n_heads: u32,
  group: u32,    // query heads per kv head
  max_ctx: u32,
  scale: f32,    // softmax scale * log2(e): scores come out in log2 units, so exp2 does the softmax
  splits: u32,   // decode: split count fixed at prepare time
  window: u32,   // sliding window: a query at position q sees keys j with q - j < window; 0 = no window
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> q: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4f>;

override WG: u32 = 64u;         // threads per workgroup
// A finite stand-in for -infinity (WGSL has no infinity literal); exp2 of anything near it is 0.
const NEG_BIG = -3.0e38;

// First key position a query at q_pos may see: 0, or q_pos + 1 - window under a sliding window.
fn window_start(q_pos: u32) -> u32 {
  return select(0u, q_pos + 1u - p.window, p.window != 0u && q_pos >= p.window);
}

// Head dim in vec4s.
override DV: u32 = 32u;
