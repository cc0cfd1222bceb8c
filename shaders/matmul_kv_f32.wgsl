// f32 caches for the Q|K|V epilogue (matmul_epilogue_rope_kv.wgsl): values v at head dims `dims`
// of the row starting at `at`.

@group(0) @binding(7) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(8) var<storage, read_write> v_cache: array<f32>;

fn store_kv4(is_k: bool, at: u32, dims: vec4u, v: vec4f) {
  if (is_k) {
    k_cache[at + dims.x] = v.x;
    k_cache[at + dims.y] = v.y;
    k_cache[at + dims.z] = v.z;
    k_cache[at + dims.w] = v.w;
  } else {
    v_cache[at + dims.x] = v.x;
    v_cache[at + dims.y] = v.y;
    v_cache[at + dims.z] = v.z;
    v_cache[at + dims.w] = v.w;
  }
}
