// RoPE arithmetic shared by rope.wgsl (and kv_append.wgsl) and the matmul's RoPE + KV epilogue
// (matmul_epilogue_rope_kv.wgsl): no bindings.

// pi/2 split so that q * PI_2_HI is exact in f32 for q < 2^16 (PI_2_HI has 8 significant bits).
const PI_2_HI: f32 = 1.5703125;
const PI_2_LO: f32 = 4.8382679489661923e-4;

// (cos, sin) of a f32 angle to about 1e-7. WGSL bounds the builtins' error only by 2^-11 on
// [-pi, pi] (SwiftShader is that coarse), too loose to compare RoPE against a reference, so
// reduce to r in [-pi/4, pi/4] around a multiple q of pi/2 and use Taylor series, whose
// truncation errors there are below 3e-8.
fn cos_sin(angle: f32) -> vec2f {
  let q = round(angle * 0.63661977236758134);
  let r = (angle - q * PI_2_HI) - q * PI_2_LO;
  let r2 = r * r;
  let s = r * (1.0 + r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0)))));
  let c = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0))));
  switch (i32(q) & 3) {
    case 0: { return vec2f(c, s); }
    case 1: { return vec2f(-s, c); }
    case 2: { return vec2f(-c, -s); }
    default: { return vec2f(s, -c); }
  }
}

// The elements of rotary pair j within a head: (2j, 2j + 1) interleaved (GGUF, llama.cpp,
// llama2.c), (j, j + half_rot) rotate-half (Hugging Face).
fn rope_elems(j: u32, half_rot: u32, interleaved: bool) -> vec2u {
  return select(vec2u(j, j + half_rot), vec2u(2u * j, 2u * j + 1u), interleaved);
}

fn rotate(a: f32, b: f32, cs: vec2f) -> vec2f {
  return vec2f(a * cs.x - b * cs.y, a * cs.y + b * cs.x);
}
