// A q8 KV cache (KvCache format 'q8', written by kv_append_q8.wgsl): int8 four per u32, so vec4 i
// of the [n_kv_heads, max_ctx, head_dim] layout is word i, and one f32 scale per block of
// 4 << KV_SHIFT values after all the values (from word KV_SCALES on). Needs int8x4.wgsl.
@group(0) @binding(3) var<storage, read> k_cache: array<u32>;
@group(0) @binding(4) var<storage, read> v_cache: array<u32>;

override KV_SCALES: u32 = 0u;
override KV_SHIFT: u32 = 3u;

fn load_k(i: u32) -> vec4f {
  return bitcast<f32>(k_cache[KV_SCALES + (i >> KV_SHIFT)]) * i8x4(k_cache[i]);
}

fn load_v(i: u32) -> vec4f {
  return bitcast<f32>(v_cache[KV_SCALES + (i >> KV_SHIFT)]) * i8x4(v_cache[i]);
}
