// x[t, :] += table[step.pos + t, :] for t < step.tokens: learned or sinusoidal position embeddings
// added to the token rows (Whisper's encoder at pos 0, its decoder at each step's position).

struct Params {
  n: u32,    // elements per row
  rows: u32, // rows in the table
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<storage, read> table: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.x + wg.y * 65535u) * 64u + lid;
  if (i >= step.tokens * p.n) { return; }
  let row = step.pos + i / p.n;
  if (row >= p.rows) { return; }
  x[i] = x[i] + table[row * p.n + i % p.n];
}
