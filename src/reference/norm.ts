/** RMSNorm of each row of x [rows, cols]: x / sqrt(mean(x^2) + eps) * w (or * (1 + w)). */
export function rmsNormRef(x: Float32Array, w: Float32Array, rows: number, cols: number, eps: number, addOne = false): Float32Array {
  const y = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < cols; i++) ss += x[r * cols + i]! ** 2;
    const inv = 1 / Math.sqrt(ss / cols + eps);
    for (let i = 0; i < cols; i++) y[r * cols + i] = x[r * cols + i]! * inv * (addOne ? 1 + w[i]! : w[i]!);
  }
  return y;
}

/** In place: x += r. */
export function addInPlace(x: Float32Array, r: Float32Array): Float32Array {
  for (let i = 0; i < x.length; i++) x[i] = x[i]! + r[i]!;
  return x;
}
