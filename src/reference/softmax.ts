/** Softmax of each row of x [rows, cols], in f64 with the row maximum subtracted first. */
export function softmaxRef(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * cols, (r + 1) * cols);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    for (let i = 0; i < cols; i++) out[r * cols + i] = Math.exp(row[i]! - max) / sum;
  }
  return out;
}
