// f32 caches for kv_append.wgsl.

@group(0) @binding(6) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(7) var<storage, read_write> v_cache: array<f32>;

fn copy_v(s: Slot) {
  v_cache[s.dst + 2u * s.j] = v[s.src + 2u * s.j];
  v_cache[s.dst + 2u * s.j + 1u] = v[s.src + 2u * s.j + 1u];
}

@compute @workgroup_size(64)
fn kv_append_copy(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let s = slot((wg.x + wg.y * 65535u) * 64u + lid);
  if (!s.ok) { return; }
  k_cache[s.dst + 2u * s.j] = k[s.src + 2u * s.j];
  k_cache[s.dst + 2u * s.j + 1u] = k[s.src + 2u * s.j + 1u];
  copy_v(s);
}

@compute @workgroup_size(64)
fn kv_append_rope(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let s = slot((wg.x + wg.y * 65535u) * 64u + lid);
  if (!s.ok) { return; }
  if (s.j < p.half_rot) {
    let pr = rope_pair(s.j, s.pos);
    let y = rotate(k[s.src + pr.i0], k[s.src + pr.i1], pr.cs);
    k_cache[s.dst + pr.i0] = y.x;
    k_cache[s.dst + pr.i1] = y.y;
  } else {
    k_cache[s.dst + 2u * s.j] = k[s.src + 2u * s.j];
    k_cache[s.dst + 2u * s.j + 1u] = k[s.src + 2u * s.j + 1u];
  }
  copy_v(s);
}
