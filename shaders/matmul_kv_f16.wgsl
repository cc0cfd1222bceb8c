// f16 caches for the Q|K|V epilogue (matmul_epilogue_rope_kv.wgsl), two halves per u32: a group's
// dims are two even-aligned pairs (dims.x, dims.y) and (dims.z, dims.w), each one whole word.

@group(0) @binding(7) var<storage, read_write> k_cache: array<u32>;
@group(0) @binding(8) var<storage, read_write> v_cache: array<u32>;

fn store_kv4(is_k: bool, at: u32, dims: vec4u, v: vec4f) {
  let lo = (at + dims.x) / 2u;
  let hi = (at + dims.z) / 2u;
  if (is_k) {
    k_cache[lo] = pack2x16float(v.xy);
    k_cache[hi] = pack2x16float(v.zw);
  } else {
    v_cache[lo] = pack2x16float(v.xy);
    v_cache[hi] = pack2x16float(v.zw);
  }
}
