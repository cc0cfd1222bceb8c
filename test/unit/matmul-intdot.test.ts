/**
 * The integer-dot GEMV (MatmulArgs.intDot): the input row packed to int8 blocks of 32 with an f32
 * d, each format's int8 chunks, dot4I8Packed. Against the reference on the same quantized row
 * (reference/act-quant.ts with f32Scale) and the same dequantized weights, for every format with
 * integer chunks, both kernel variants, split weights, bias and accumulate; a device without
 * packed_4x8_integer_dot_product takes the f32 GEMV and matches the unquantized reference.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { matmul, usesIntDot, type MatmulVariant } from '../../src/kernels/matmul.js';
import { matmulRef } from '../../src/reference/matmul.js';
import { quantizeActRef } from '../../src/reference/act-quant.js';
import { FORMATS, WEIGHT_FORMATS, dequantize, quantize, type WeightFormat } from '../../src/quant/formats.js';
import { createStorage, readF32, uploadStorage, writeBuffer } from '../../src/gpu/buffers.js';
import { createNodeGpuContext } from '../../src/gpu/node.js';
import type { GpuContext } from '../../src/gpu/device.js';
import { StepUniform, runDispatches } from '../../src/gpu/dispatch.js';
import { destroyWeight, strideWords, uploadWeight } from '../../src/gpu/weights.js';
import { testGpu } from '../helpers/gpu.js';
import { compare, randomF32 } from '../helpers/random.js';

const INT: WeightFormat[] = WEIGHT_FORMATS.filter((f) => FORMATS[f].intDot);

let plain: Promise<GpuContext> | null = null;
afterAll(async () => {
  if (plain) (await plain).destroy();
});

async function check(ctx: GpuContext, format: WeightFormat, variant: MatmulVariant, m: number, n: number, k: number, split: boolean): Promise<void> {
  const step = new StepUniform(ctx);
  const seed = n * 31 + k + format.length;
  const native = quantize(format, randomF32(n * k, seed));
  const wd = dequantize(format, native, n * k);
  const w = uploadWeight(ctx, format, n, k, native, split ? { maxPartBytes: 8 * strideWords(format, k) * 4 } : {});
  if (split) expect(w.parts.length).toBeGreaterThan(1);
  const x = randomF32(m * k, seed + 1);
  const b = randomF32(n, seed + 2);
  const y0 = randomF32(n, seed + 3);
  const y = uploadStorage(ctx, y0, 'y');
  const args = { step: step.buffer, x: uploadStorage(ctx, x, 'x'), w, y, bias: uploadStorage(ctx, b, 'b'), maxTokens: m, accumulate: true, lastRowOnly: true, variant, intDot: true };
  const int = usesIntDot(ctx, args);
  expect(int).toBe(ctx.features.packedDot4x8);
  const ds = matmul(ctx, args);
  expect(ds.some((d) => d.label.endsWith('.pack'))).toBe(int);
  await runDispatches(ctx, ds, { tokens: m, pos: 0, kvLen: m }, step);
  const got = await readF32(ctx, y, n);
  const row = x.subarray((m - 1) * k);
  const xin = int ? quantizeActRef(row, 1, k, 'q8_0', { f32Scale: true }) : row;
  const ref = matmulRef(xin, wd, 1, n, k, b);
  const want = ref.map((v, i) => v + y0[i]!);
  expect(compare(got, want).maxRel, `${format} ${variant} ${m}x${n}x${k}${split ? ' split' : ''} ${int ? 'int8' : 'f32'}`).toBeLessThan(1e-5);
  destroyWeight(w);
  step.destroy();
}

describe('integer-dot GEMV', () => {
  it('this Dawn (SwiftShader) has packed_4x8_integer_dot_product', async () => {
    expect((await testGpu()).features.packedDot4x8).toBe(true);
  });

  for (const variant of ['register', 'tiled'] as const) {
    it(`${variant}: ${INT.join(', ')} match the reference on the same int8 row, one part and split, bias and accumulate`, async () => {
      const ctx = await testGpu();
      for (const format of INT) {
        const k = FORMATS[format].block === 256 ? 512 : 96;
        await check(ctx, format, variant, 3, 37, k, false);
        await check(ctx, format, variant, 1, 21, k, true);
      }
    });
  }

  it('without the language feature: the f32 GEMV, no packing launch, the unquantized reference', async () => {
    plain ??= createNodeGpuContext({ disableFeatures: { packedDot4x8: true } });
    const ctx = await plain;
    expect(ctx.features.packedDot4x8).toBe(false);
    for (const format of ['q4_k', 'q4_0'] as const) await check(ctx, format, 'register', 2, 19, FORMATS[format].block === 256 ? 256 : 64, false);
  });
});
