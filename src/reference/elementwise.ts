/** SiLU-gated product of the MLP: silu(gate) * up, silu(x) = x / (1 + e^-x). */
export function siluMulRef(gate: Float32Array, up: Float32Array): Float32Array {
  const out = new Float32Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i]!;
    out[i] = (g / (1 + Math.exp(-g))) * up[i]!;
  }
  return out;
}

/**
 * GELU with the tanh approximation (PyTorch's approximate='tanh', Gemma's gelu_pytorch_tanh), in f64:
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

/** GELU(tanh)-gated product of Gemma's MLP: gelu_tanh(gate) * up. */
export function geluTanhMulRef(gate: Float32Array, up: Float32Array): Float32Array {
  const out = new Float32Array(gate.length);
  for (let i = 0; i < gate.length; i++) out[i] = geluTanh(gate[i]!) * up[i]!;
  return out;
}

/** act(gate) * up for the gated MLP's activation ('silu' or 'gelu_tanh'). */
export function gatedActRef(activation: 'silu' | 'gelu_tanh', gate: Float32Array, up: Float32Array): Float32Array {
  return activation === 'gelu_tanh' ? geluTanhMulRef(gate, up) : siluMulRef(gate, up);
}

/** Elementwise a + b. */
export function addRef(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}
