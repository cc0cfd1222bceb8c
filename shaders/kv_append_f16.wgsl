// f16 caches for kv_append.wgsl (KvCache format 'f16'): two halves per u32. An invocation writes the
// word of element pair (2j, 2j + 1) of its head, working out each element's rotated value from its own
// rotary pair, so no two invocations share a word in either pair convention.

@group(0) @binding(6) var<storage, read_write> k_cache: array<u32>;
@group(0) @binding(7) var<storage, read_write> v_cache: array<u32>;

// Elements 2j, 2j + 1 of the head: k's given, v's copied.
fn append_f16(s: Slot, k2: vec2f) {
  let d = 2u * s.j;
  let w = (s.dst + d) / 2u;
  k_cache[w] = pack2x16float(k2);
  v_cache[w] = pack2x16float(vec2f(v[s.src + d], v[s.src + d + 1u]));
}

@compute @workgroup_size(64)
fn kv_append_copy(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let s = slot((wg.x + wg.y * 65535u) * 64u + lid);
  if (!s.ok) { return; }
  append_f16(s, vec2f(k[s.src + 2u * s.j], k[s.src + 2u * s.j + 1u]));
}

@compute @workgroup_size(64)
fn kv_append_rope(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let s = slot((wg.x + wg.y * 65535u) * 64u + lid);
  if (!s.ok) { return; }
  let d = 2u * s.j;
  append_f16(s, vec2f(k_rotated(s.src, d, s.pos), k_rotated(s.src, d + 1u, s.pos)));
}
