// An f32 KV cache, read by the attention kernels a vec4 at a time (i in vec4s).
@group(0) @binding(3) var<storage, read> k_cache: array<vec4f>;
@group(0) @binding(4) var<storage, read> v_cache: array<vec4f>;

fn load_k(i: u32) -> vec4f {
  return k_cache[i];
}

fn load_v(i: u32) -> vec4f {
  return v_cache[i];
}
