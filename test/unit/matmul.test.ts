import { afterAll, describe, expect, it } from 'vitest';
import { matmul, type MatmulVariant } from '../../src/kernels/matmul.js';
import { matmulRef } from '../../src/reference/matmul.js';
import { dequantize, quantize, type WeightFormat } from '../../src/quant/formats.js';
import { createStorage, readF32, uploadStorage, writeBuffer } from '../../src/gpu/buffers.js';
import { createNodeGpuContext } from '../../src/gpu/node.js';
import type { GpuContext } from '../../src/gpu/device.js';
import { StepUniform, gridFor, runDispatches } from '../../src/gpu/dispatch.js';
import { destroyWeight, uploadWeight } from '../../src/gpu/weights.js';
import { testGpu } from '../helpers/gpu.js';
import { compare, randomF32 } from '../helpers/random.js';

// Every format is compared with the reference on exactly the dequantized weights, so all of them
// differ only by f32 rounding and summation order (f16 values, int8/int4 times an f16 scale are
// exact in f32; k-quants' d * sub-scale and formats with a min round once more): relative to the
// largest |y|, the error stays below 1e-5 for each format.
const TOL = 1e-5;

interface Device {
  name: string;
  ctx: GpuContext;
  step: StepUniform;
  /** Only the GEMV differs between devices with and without subgroups: test just it there. */
  gemvOnly: boolean;
}

let noSubgroups: Promise<GpuContext> | null = null;
let both: Promise<Device[]> | null = null;
const devices = (): Promise<Device[]> =>
  (both ??= (async () => {
    const ctx = await testGpu();
    noSubgroups = createNodeGpuContext({ disableFeatures: { subgroups: true } });
    const plain = await noSubgroups;
    expect(plain.features.subgroups).toBe(false);
    return [
      { name: ctx.features.subgroups ? 'subgroups' : 'default', ctx, step: new StepUniform(ctx), gemvOnly: false },
      ...(ctx.features.subgroups ? [{ name: 'no subgroups', ctx: plain, step: new StepUniform(plain), gemvOnly: true }] : []),
    ];
  })());

afterAll(async () => {
  if (noSubgroups) (await noSubgroups).destroy();
});

interface Case {
  m: number;
  n: number;
  k: number;
  formats: WeightFormat[];
  /** Split the weight into parts of at most this many bytes. */
  maxPartBytes?: number;
}

const FLOAT: WeightFormat[] = ['f32', 'f16'];
const QUANT: WeightFormat[] = ['q8_0', 'q4_0'];
/** Formats read as stored since the format registry: 32-value blocks, and 256-value k-quants. */
const QUANT32: WeightFormat[] = ['q4_1', 'q5_0'];
const KQUANT: WeightFormat[] = ['q4_k', 'q5_k', 'q6_k'];
const CASES: Case[] = [
  { m: 1, n: 67, k: 129, formats: FLOAT },
  { m: 7, n: 200, k: 333, formats: FLOAT },
  { m: 3, n: 45, k: 68, formats: FLOAT }, // K % 8 == 4: f16 takes the masked x path, f32 the vec4 one
  { m: 1, n: 64, k: 96, formats: [...FLOAT, ...QUANT, ...QUANT32] },
  { m: 5, n: 96, k: 160, formats: [...FLOAT, ...QUANT] },
  { m: 3, n: 33, k: 64, formats: [...FLOAT, ...QUANT] },
  { m: 70, n: 70, k: 64, formats: [...FLOAT, ...QUANT, ...QUANT32] }, // more than one 64-row tile of M
  { m: 6, n: 150, k: 128, formats: [...FLOAT, ...QUANT], maxPartBytes: 1024 }, // several parts
  { m: 1, n: 37, k: 256, formats: [...FLOAT, ...QUANT, ...QUANT32, ...KQUANT], maxPartBytes: 2048 },
  { m: 5, n: 45, k: 512, formats: [...QUANT32, ...KQUANT] }, // two super-blocks per row
  { m: 67, n: 9, k: 256, formats: KQUANT }, // more than one 64-row tile of M
  { m: 6, n: 21, k: 768, formats: KQUANT, maxPartBytes: 3000 }, // several parts, odd blocks per part
];

interface Mode {
  bias?: boolean;
  accumulate?: boolean;
  lastRowOnly?: boolean;
}

async function check(dev: Device, variant: MatmulVariant, format: WeightFormat, c: Case): Promise<void> {
  const { ctx, step } = dev;
  const { m, n, k } = c;
  const seed = m * 1000 + n * 10 + k;
  const native = quantize(format, randomF32(n * k, seed));
  const wd = dequantize(format, native, n * k);
  const w = uploadWeight(ctx, format, n, k, native, { maxPartBytes: c.maxPartBytes });
  if (c.maxPartBytes) expect(w.parts.length).toBeGreaterThan(2);
  const x = randomF32(m * k, seed + 1);
  const b = randomF32(n, seed + 2);
  const y0 = randomF32(m * n, seed + 3);
  const xb = uploadStorage(ctx, x, 'x');
  const bias = uploadStorage(ctx, b, 'bias');
  const y = createStorage(ctx, m * n * 4, 'y');
  const refs = [matmulRef(x, wd, m, n, k), matmulRef(x, wd, m, n, k, b)] as const;

  const modes: Mode[] = [{}, { bias: true, accumulate: true }, { bias: true, lastRowOnly: true }, { lastRowOnly: true, accumulate: true }];
  for (const mode of modes) {
    // a device tested for its GEMV alone never prepares the GEMM (whose compile is slow on a CPU driver)
    const lastRowOnly = mode.lastRowOnly || dev.gemvOnly;
    const want = new Float32Array(y0);
    const ref = refs[mode.bias ? 1 : 0];
    const rows = lastRowOnly ? 1 : m;
    const from = lastRowOnly ? (m - 1) * n : 0;
    for (let i = 0; i < rows * n; i++) want[i] = ref[from + i]! + (mode.accumulate ? y0[i]! : 0);

    writeBuffer(ctx, y, 0, y0);
    const ds = matmul(ctx, { step: step.buffer, x: xb, w, y, bias: mode.bias ? bias : undefined, maxTokens: m, accumulate: mode.accumulate, lastRowOnly, variant });
    await runDispatches(ctx, ds, { tokens: m, pos: 0, kvLen: m }, step);
    const got = await readF32(ctx, y, m * n);
    const what = `${dev.name} ${variant} ${format} ${m}x${n}x${k} ${JSON.stringify({ ...mode, lastRowOnly })}`;
    expect(compare(got, want).maxRel, what).toBeLessThan(TOL);
    expect(compare(got.subarray(rows * n), want.subarray(rows * n)).maxAbs, `${what}: rows past the output`).toBe(0);
  }

  destroyWeight(w);
  for (const buf of [xb, bias, y]) buf.destroy();
}

describe('matmul kernels', () => {
  for (const variant of ['register', 'tiled'] as const) {
    for (const c of CASES) {
      const parts = c.maxPartBytes ? ', split' : '';
      it(`${variant}: ${c.m}x${c.n}x${c.k}${parts} (${c.formats.join(', ')}) matches the reference`, async () => {
        for (const dev of await devices()) {
          if (dev.gemvOnly && variant === 'register') continue; // it uses no subgroups
          for (const format of c.formats) await check(dev, variant, format, c);
        }
      });
    }
  }

  it('writes its columns in sections ([M, width] blocks at their own offsets), as a fused Q|K|V does, from GEMV and GEMM, split weights too', async () => {
    const ctx = await testGpu();
    const step = new StepUniform(ctx);
    const [m, k] = [5, 96];
    const widths = [40, 24, 24];
    const n = 88;
    const offsets = [0, 256, 512]; // section 0 is 5 x 40 = 200 floats; then 5 x 24 each, padded
    const native = quantize('q8_0', randomF32(n * k, 77));
    const wd = dequantize('q8_0', native, n * k);
    const x = randomF32(m * k, 78);
    const b = randomF32(n, 79);
    const ref = matmulRef(x, wd, m, n, k, b);
    for (const variant of ['register', 'tiled'] as const) {
      for (const maxPartBytes of [undefined, 1024]) {
        const w = uploadWeight(ctx, 'q8_0', n, k, native, { maxPartBytes });
        const y = createStorage(ctx, 1024 * 4, 'y');
        writeBuffer(ctx, y, 0, new Float32Array(1024).fill(-7));
        const sections = widths.map((width, i) => ({ width, offset: offsets[i]! }));
        for (const tokens of [m, 1]) {
          const ds = matmul(ctx, { step: step.buffer, x: uploadStorage(ctx, x, 'x'), w, y, bias: uploadStorage(ctx, b, 'b'), maxTokens: m, variant, sections, lastRowOnly: tokens === 1 });
          await runDispatches(ctx, ds, { tokens: m, pos: 0, kvLen: m }, step);
          const got = await readF32(ctx, y, 1024);
          const rows = tokens === 1 ? [m - 1] : [0, 1, 2, 3, 4];
          rows.forEach((row, r) => {
            let col = 0;
            widths.forEach((width, si) => {
              for (let j = 0; j < width; j++, col++) {
                const want = ref[row * n + col]!;
                expect(Math.abs(got[offsets[si]! + r * width + j]! - want), `${variant} parts ${maxPartBytes} row ${row} col ${col}`).toBeLessThan(1e-4 * (1 + Math.abs(want)));
              }
            });
          });
          // nothing written between the sections
          expect(got[offsets[0]! + m * widths[0]!]).toBe(-7);
          expect(got[offsets[2]! + m * widths[2]!]).toBe(-7);
        }
        expect(() => matmul(ctx, { step: step.buffer, x: uploadStorage(ctx, x, 'x'), w, y, maxTokens: m, sections: [{ width: 40, offset: 0 }, { width: 40, offset: 256 }] })).toThrow(/add up/);
        destroyWeight(w);
      }
    }
  });

  it('picks the GEMV for one token and the GEMM for several, prepares no GEMM for decode only, refuses more tokens than prepared', async () => {
    const ctx = await testGpu();
    const step = new StepUniform(ctx);
    const native = quantize('q4_0', randomF32(64 * 64, 7));
    const w = uploadWeight(ctx, 'q4_0', 64, 64, native);
    for (const variant of ['register', 'tiled'] as const) {
      const ds = matmul(ctx, { step: step.buffer, x: createStorage(ctx, 8 * 64 * 4, 'x'), w, y: createStorage(ctx, 8 * 64 * 4, 'y'), maxTokens: 8, variant });
      const live = (tokens: number) => ds.filter((d) => gridFor(d, { tokens, pos: 0, kvLen: tokens }).every((g) => g > 0)).map((d) => d.label);
      expect(live(1)).toEqual(['matmul.gemv']);
      expect(live(8)).toEqual(['matmul.gemm']);
      expect(() => gridFor(ds[0]!, { tokens: 9, pos: 0, kvLen: 9 })).toThrow(/more than the 8/);
      const decodeOnly = matmul(ctx, { step: step.buffer, x: createStorage(ctx, 64 * 4, 'x'), w, y: createStorage(ctx, 64 * 4, 'y'), maxTokens: 1, variant });
      expect(decodeOnly.map((d) => d.label)).toEqual(['matmul.gemv']);
    }
    destroyWeight(w);
  });
});
