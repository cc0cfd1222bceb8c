// The gated MLP's activations, shared by silu_mul.wgsl and the matmul's gated prologue
// (matmul_prologue_gated.wgsl).

fn silu_of(g: f32) -> f32 {
  // for g << 0, exp(-g) overflows to +inf and g / inf gives the right limit, -0
  return g / (1.0 + exp(-g));
}

// gelu_tanh without tanh, whose WGSL implementations can overflow to NaN for large |x|:
// 0.5 (1 + tanh(y)) = sigmoid(2y), and sigmoid(z) = 1 / (1 + e^-z) for z >= 0, e^z / (1 + e^z) below,
// where e^-|z| never overflows. Past |g| = 10, |z| > 87 and the sigmoid is 0 or 1 in f32, so g is
// clamped there first: no cube, no exponent ever overflows.
fn gelu_tanh_of(g: f32) -> f32 {
  let x = clamp(g, -10.0, 10.0);
  let z = 1.5957691216057308 * x * (1.0 + 0.044715 * x * x);  // 2 sqrt(2/pi) (x + 0.044715 x^3)
  let e = exp(-abs(z));
  let sig = select(e, 1.0, z >= 0.0) / (1.0 + e);
  return select(g * sig, 0.0, g < -10.0);
}
