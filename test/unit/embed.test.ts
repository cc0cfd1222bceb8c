import { describe, expect, it } from 'vitest';
import { embed } from '../../src/kernels/embed.js';
import { embedRef } from '../../src/reference/embed.js';
import { quantize, type WeightFormat } from '../../src/quant/formats.js';
import { readF32, uploadStorage } from '../../src/gpu/buffers.js';
import { strideWords, uploadWeight } from '../../src/gpu/weights.js';
import { run, testGpu, testStep } from '../helpers/gpu.js';
import { compare, randomF32 } from '../helpers/random.js';

// The kernel and the reference dequantize the same native bytes: value = scale * q (q8_0, q4_0)
// or the stored f16/f32, one f32 product each, then times `scale`. Both round the same way in
// f32, so the result is bit-exact. Formats with a sub-block scale or a min (q4_1, q5_0's
// offset is exact, the k-quants) take one more f32 rounding on the GPU than in the reference's
// f64 arithmetic: within 1e-6 of the largest value.

const FORMATS: WeightFormat[] = ['f32', 'f16', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q4_k', 'q5_k', 'q6_k'];
const EXACT = new Set<WeightFormat>(['f32', 'f16', 'q8_0', 'q4_0', 'q5_0']);
const colsOf = (f: WeightFormat, float: number[], q32: number[]): number[] => (f === 'f32' || f === 'f16' ? float : f.endsWith('_k') ? [256, 512] : q32);

function expectClose(format: WeightFormat, got: Float32Array, want: Float32Array): void {
  const { maxAbs } = compare(got, want);
  if (EXACT.has(format)) expect(maxAbs).toBe(0);
  else expect(maxAbs).toBeLessThanOrEqual(1e-6 * Math.max(...want.map(Math.abs)));
}

describe('embed kernel', () => {
  for (const format of FORMATS) {
    const colsList = colsOf(format, [37, 64, 129], [32, 96]);
    for (const cols of colsList) {
      for (const split of [false, true]) {
        it(`${format}, ${cols} cols, ${split ? 'table split into parts' : 'one part'}`, async () => {
          const ctx = await testGpu();
          const step = await testStep();
          const rows = 23;
          const native = quantize(format, randomF32(rows * cols, 51 + cols, 2));
          // parts of 4 rows, so most ids fall outside any one part
          const table = uploadWeight(ctx, format, rows, cols, native, split ? { maxPartBytes: 4 * strideWords(format, cols) * 4 } : {});
          expect(table.parts.length).toBe(split ? 6 : 1);
          const ids = [5, 0, 22, 5, 17, 3, 3, 11, 22, 1];
          const tokens = ids.length - 1; // the last id is beyond step.tokens
          const maxTokens = ids.length;
          const out = uploadStorage(ctx, new Float32Array(maxTokens * cols).fill(-7), 'out');
          const scale = format === 'q4_0' ? 1 : 0.5 * (1 + cols / 64);
          const d = embed(ctx, { step: step.buffer, ids: uploadStorage(ctx, new Uint32Array(ids), 'ids'), table, out, maxTokens, scale });
          expect(d.length).toBe(table.parts.length);
          await run(d, { tokens });
          const got = await readF32(ctx, out, maxTokens * cols);
          const want = embedRef(format, native, rows, cols, ids.slice(0, tokens), scale);
          expectClose(format, got.subarray(0, tokens * cols), want);
          expect(got.subarray(tokens * cols).every((v) => v === -7)).toBe(true);
        });
      }
    }
  }

  // Gemma scales embeddings by sqrt(hidden), computed in f32: sqrt(640) for Gemma 3 270M is not a short
  // binary fraction, so the kernel's f32 product must round as the reference's does.
  for (const format of FORMATS) {
    it(`${format}, scaled by sqrt(hidden) in f32 (Gemma)${EXACT.has(format) ? ', bit-exact' : ''}`, async () => {
      const ctx = await testGpu();
      const step = await testStep();
      const [rows, cols] = [19, colsOf(format, [71], [96])[0]!];
      const native = quantize(format, randomF32(rows * cols, 81 + cols, 3));
      const table = uploadWeight(ctx, format, rows, cols, native, { maxPartBytes: 5 * strideWords(format, cols) * 4 });
      const ids = [18, 0, 7, 7, 3, 11, 1];
      const scale = Math.sqrt(640);
      const out = uploadStorage(ctx, new Float32Array(ids.length * cols).fill(-7), 'out');
      await run(embed(ctx, { step: step.buffer, ids: uploadStorage(ctx, new Uint32Array(ids), 'ids'), table, out, maxTokens: ids.length, scale }), { tokens: ids.length });
      const got = await readF32(ctx, out, ids.length * cols);
      expectClose(format, got, embedRef(format, native, rows, cols, ids, scale));
      // the scale did apply: against the unscaled rows, by the f32 factor
      const plain = embedRef(format, native, rows, cols, ids);
      if (EXACT.has(format)) for (let i = 0; i < got.length; i++) expect(got[i]! + 0).toBe(Math.fround(plain[i]! * Math.fround(scale)) + 0); // +0: -0 and 0 alike
    });
  }

  it('writes zeros for ids past the table', async () => {
    const ctx = await testGpu();
    const step = await testStep();
    const [rows, cols] = [6, 64];
    const native = quantize('q8_0', randomF32(rows * cols, 61));
    const table = uploadWeight(ctx, 'q8_0', rows, cols, native, { maxPartBytes: 200 });
    const ids = [2, 6, 1000, 5];
    const out = uploadStorage(ctx, new Float32Array(ids.length * cols).fill(-7), 'out');
    await run(embed(ctx, { step: step.buffer, ids: uploadStorage(ctx, new Uint32Array(ids), 'ids'), table, out, maxTokens: ids.length }), { tokens: ids.length });
    const got = await readF32(ctx, out, ids.length * cols);
    expect(compare(got, embedRef('q8_0', native, rows, cols, ids)).maxAbs).toBe(0);
    expect(got.subarray(cols, 3 * cols).every((v) => v === 0)).toBe(true);
  });
});
