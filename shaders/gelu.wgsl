// In place: x = gelu(x) = x * (1 + erf(x / sqrt 2)) / 2 (PyTorch's exact nn.GELU, Whisper's), over
// the first step.tokens * n elements. erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).

struct Params {
  n: u32, // elements per token
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;

fn erf_approx(z: f32) -> f32 {
  let a = abs(z);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t;
  let e = 1.0 - poly * exp(-a * a);
  return select(-e, e, z >= 0.0);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.x + wg.y * 65535u) * 64u + lid;
  if (i >= step.tokens * p.n) { return; }
  let v = x[i];
  x[i] = 0.5 * v * (1.0 + erf_approx(v * 0.70710678118654752));
}
