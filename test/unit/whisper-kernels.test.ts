/** Whisper's kernels (layernorm, gelu, conv1d, add_rows, attention_full) against the CPU reference at ragged shapes. */
import { describe, expect, it } from 'vitest';
import { layerNorm } from '../../src/kernels/layernorm.js';
import { gelu } from '../../src/kernels/gelu.js';
import { conv1d } from '../../src/kernels/conv1d.js';
import { addRows } from '../../src/kernels/add_rows.js';
import { attentionFull, attentionFullMatmul } from '../../src/kernels/attention_full.js';
import { createStorage, readF32, uploadStorage } from '../../src/gpu/buffers.js';
import { uploadWeight } from '../../src/gpu/weights.js';
import { addRowsRef, conv1dRef, geluRef, layerNormRef, mhaRef } from '../../src/reference/whisper.js';
import { run, testGpu, testStep } from '../helpers/gpu.js';
import { compare, randomF32 } from '../helpers/random.js';

const bytes = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('layernorm kernel', () => {
  for (const [tokens, cols] of [
    [1, 384],
    [5, 37],
    [3, 1000],
  ] as const) {
    it(`matches the reference at ${tokens} x ${cols}, rows past step.tokens untouched`, async () => {
      const ctx = await testGpu();
      const step = await testStep();
      const maxTokens = tokens + 1;
      // an offset mean, as residual streams have
      const x = randomF32(maxTokens * cols, 7 + cols, 3).map((v) => v + 5);
      const g = randomF32(cols, 8, 1);
      const b = randomF32(cols, 9, 1);
      const out = uploadStorage(ctx, new Float32Array(maxTokens * cols).fill(123), 'out');
      const d = layerNorm(ctx, { step: step.buffer, x: uploadStorage(ctx, x, 'x'), weight: uploadStorage(ctx, g, 'g'), bias: uploadStorage(ctx, b, 'b'), out, cols, maxTokens, eps: 1e-5 });
      await run(d, { tokens });
      const got = await readF32(ctx, out);
      expect(compare(got.subarray(0, tokens * cols), layerNormRef(x, g, b, tokens, cols)).maxAbs).toBeLessThan(2e-5);
      expect(got.subarray(tokens * cols, maxTokens * cols).every((v) => v === 123)).toBe(true);
    });
  }
});

describe('gelu kernel', () => {
  it('matches the exact (erf) GELU over a wide range at 3 x 333', async () => {
    const ctx = await testGpu();
    const step = await testStep();
    const n = 333;
    const x = randomF32(4 * n, 11, 6);
    x.set([-40, -6, -1e-4, 0, 1e-4, 6, 40], 0);
    const buf = uploadStorage(ctx, x, 'x');
    await run(gelu(ctx, { step: step.buffer, x: buf, n, maxTokens: 4 }), { tokens: 3 });
    const got = await readF32(ctx, buf);
    expect(compare(got.subarray(0, 3 * n), geluRef(x.subarray(0, 3 * n))).maxAbs).toBeLessThan(2e-6);
    expect(got.subarray(3 * n)).toEqual(x.subarray(3 * n));
  });
});

describe('conv1d kernel (unfold + matmul)', () => {
  for (const [tIn, cIn, cOut, stride, format] of [
    [13, 7, 10, 1, 'f32'],
    [13, 8, 12, 2, 'f16'],
    [40, 80, 24, 1, 'f16'],
    [41, 24, 16, 2, 'f32'],
  ] as const) {
    it(`matches the reference: ${tIn} steps, ${cIn} -> ${cOut} channels, stride ${stride}, ${format} weights`, async () => {
      const ctx = await testGpu();
      const step = await testStep();
      const tOut = Math.floor((tIn - 1) / stride) + 1;
      const x = randomF32(tIn * cIn, 21 + tIn, 1);
      let w = randomF32(cOut * cIn * 3, 22 + cIn, 0.3);
      const b = randomF32(cOut, 23, 0.5);
      let native = bytes(w);
      if (format === 'f16') {
        const { f32ToF16Bits, f16BitsToF32 } = await import('../../src/util/f16.js');
        const h = Uint16Array.from(w, f32ToF16Bits);
        w = Float32Array.from(h, f16BitsToF32);
        native = new Uint8Array(h.buffer);
      }
      const out = createStorage(ctx, tOut * cOut * 4, 'out');
      const d = conv1d(ctx, {
        step: step.buffer,
        x: uploadStorage(ctx, x, 'x'),
        tIn,
        cIn,
        w: uploadWeight(ctx, format, cOut, cIn * 3, native),
        bias: uploadStorage(ctx, b, 'b'),
        stride,
        columns: createStorage(ctx, tOut * cIn * 3 * 4, 'cols'),
        out,
        maxTokens: tOut,
      });
      await run(d, { tokens: tOut });
      const got = await readF32(ctx, out, tOut * cOut);
      expect(compare(got, conv1dRef(x, tIn, cIn, w, b, cOut, stride)).maxAbs).toBeLessThan(1e-4);
    });
  }
});

describe('add_rows kernel', () => {
  it('adds table rows pos.. to the token rows (3 tokens at position 5, 37 wide)', async () => {
    const ctx = await testGpu();
    const step = await testStep();
    const [n, rows] = [37, 9];
    const x = randomF32(4 * n, 31, 1);
    const table = randomF32(rows * n, 32, 1);
    const buf = uploadStorage(ctx, x, 'x');
    await run(addRows(ctx, { step: step.buffer, x: buf, table: uploadStorage(ctx, table, 't'), n, rows, maxTokens: 4 }), { tokens: 3, pos: 5, kvLen: 8 });
    const got = await readF32(ctx, buf);
    expect(compare(got.subarray(0, 3 * n), addRowsRef(x, table, 3, n, 5).subarray(0, 3 * n)).maxAbs).toBe(0);
    expect(got.subarray(3 * n)).toEqual(x.subarray(3 * n));
  });
});

describe('attention_full kernel (non-causal)', () => {
  for (const [tq, tk, heads, hd] of [
    [1, 37, 3, 8],
    [19, 19, 2, 64],
    [5, 70, 6, 64],
    [3, 11, 1, 4],
    [1, 1500, 6, 64], // tiny's decoder step over a window's encoder states
    [2, 45, 2, 256], // the widest head: fewer threads, each partial in workgroup memory
  ] as const) {
    it(`matches the reference: ${tq} queries over ${tk} keys, ${heads} heads of ${hd}`, async () => {
      const ctx = await testGpu();
      const step = await testStep();
      const d = heads * hd;
      // q inside a fused q|k|v row layout (stride 3d), k and v in one k|v buffer of two blocks
      const q = randomF32(tq * 3 * d, 41 + tq, 1);
      const kv = randomF32(2 * tk * d + 8, 42 + tk, 1);
      const out = createStorage(ctx, tq * d * 4, 'out');
      const kvBuf = uploadStorage(ctx, kv, 'kv');
      const dispatch = attentionFull(ctx, { step: step.buffer, q: uploadStorage(ctx, q, 'q'), k: kvBuf, v: kvBuf, out, heads, headDim: hd, kvLen: tk, maxTokens: tq, qStride: 3 * d, kOffset: 8, vOffset: 8 + tk * d });
      await run(dispatch, { tokens: tq });
      const got = await readF32(ctx, out, tq * d);
      const qd = new Float32Array(tq * d);
      for (let t = 0; t < tq; t++) qd.set(q.subarray(t * 3 * d, t * 3 * d + d), t * d);
      const want = mhaRef(qd, kv.subarray(8, 8 + tk * d), kv.subarray(8 + tk * d, 8 + 2 * tk * d), tq, tk, heads, hd);
      expect(compare(got, want).maxAbs).toBeLessThan(2e-5);
    });
  }
});

describe('attention_full as matmuls (self-attention, one head at a time)', () => {
  for (const [t, heads, hd] of [
    [19, 2, 64],
    [37, 3, 8],
    [6, 1, 4],
  ] as const) {
    it(`matches the reference: ${t} positions, ${heads} heads of ${hd}, q|k|v fused`, async () => {
      const ctx = await testGpu();
      const step = await testStep();
      const d = heads * hd;
      const qkv = randomF32(t * 3 * d, 51 + t, 1.5);
      const buf = uploadStorage(ctx, qkv, 'qkv');
      const out = createStorage(ctx, t * d * 4, 'out');
      await run(attentionFullMatmul(ctx, { step: step.buffer, q: buf, k: buf, v: buf, out, heads, headDim: hd, kvLen: t, maxTokens: t, qStride: 3 * d, kvStride: 3 * d, kOffset: d, vOffset: 2 * d }), { tokens: t, kvLen: t });
      const part = (i: number): Float32Array => {
        const x = new Float32Array(t * d);
        for (let r = 0; r < t; r++) x.set(qkv.subarray(r * 3 * d + i * d, r * 3 * d + (i + 1) * d), r * d);
        return x;
      };
      const got = await readF32(ctx, out, t * d);
      expect(compare(got, mhaRef(part(0), part(1), part(2), t, t, heads, hd)).maxAbs).toBeLessThan(2e-5);
    });
  }
});
