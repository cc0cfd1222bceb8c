/**
 * y[m, n] = sum_k x[m, k] * w[n, k] (+ bias[n]): x is [M, K], w is [N, K] (row-major, as
 * Hugging Face stores linear layers), y is [M, N]. Accumulates in f64.
 */
export function matmulRef(x: Float32Array, w: Float32Array, m: number, n: number, k: number, bias?: Float32Array): Float32Array {
  const y = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j]! : 0;
      for (let t = 0; t < k; t++) s += x[i * k + t]! * w[j * k + t]!;
      y[i * n + j] = s;
    }
  }
  return y;
}
