// An f16 KV cache (src/models/state.ts, KvCache format 'f16'): two halves per u32, four per vec2u,
// unpacked with unpack2x16float (no shader-f16 needed). Read a vec4 at a time (i in vec4s).
@group(0) @binding(3) var<storage, read> k_cache: array<vec2u>;
@group(0) @binding(4) var<storage, read> v_cache: array<vec2u>;

fn load_k(i: u32) -> vec4f {
  let w = k_cache[i];
  return vec4f(unpack2x16float(w.x), unpack2x16float(w.y));
}

fn load_v(i: u32) -> vec4f {
  let w = v_cache[i];
  return vec4f(unpack2x16float(w.x), unpack2x16float(w.y));
}
