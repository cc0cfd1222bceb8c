/**
 * The decode GEMV's fusions (MatmulFusion) against the CPU reference at ragged shapes, on the
 * register (CPU-driver) GEMV and the tiled GEMV with and without subgroups: the RMSNorm prologue,
 * the gated-MLP prologue (SiLU and GELU, fused gate|up or apart) with the residual add as
 * accumulate, the gate|up epilogue writing act(gate) * up, the residual GEMV's epilogue feeding the
 * next RMSNorm (x * g and partial sums of squares) with the GEMV that takes them, and the Q|K|V epilogue that rotates q and k and writes k and v into the caches.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { matmul, normPartialsBytes, type MatmulVariant } from '../../src/kernels/matmul.js';
import { matmulRef } from '../../src/reference/matmul.js';
import { rmsNormRef } from '../../src/reference/norm.js';
import { gatedActRef } from '../../src/reference/elementwise.js';
import { ropeRef } from '../../src/reference/rope.js';
import { kvAppendRef } from '../../src/reference/kvcache.js';
import { dequantize, quantize, type WeightFormat } from '../../src/quant/formats.js';
import { createStorage, readF32, uploadStorage, writeBuffer } from '../../src/gpu/buffers.js';
import { createNodeGpuContext } from '../../src/gpu/node.js';
import type { GpuContext } from '../../src/gpu/device.js';
import { StepUniform, runDispatches } from '../../src/gpu/dispatch.js';
import { destroyWeight, uploadWeight, type GpuWeight } from '../../src/gpu/weights.js';
import { testGpu } from '../helpers/gpu.js';
import { compare, randomF32 } from '../helpers/random.js';

interface Device {
  name: string;
  ctx: GpuContext;
  step: StepUniform;
  variants: MatmulVariant[];
}

let plainCtx: Promise<GpuContext> | null = null;
let all: Promise<Device[]> | null = null;
const devices = (): Promise<Device[]> =>
  (all ??= (async () => {
    const ctx = await testGpu();
    plainCtx = createNodeGpuContext({ disableFeatures: { subgroups: true } });
    const plain = await plainCtx;
    return [
      { name: 'default', ctx, step: new StepUniform(ctx), variants: ['register', 'tiled'] },
      { name: 'no subgroups', ctx: plain, step: new StepUniform(plain), variants: ['tiled'] },
    ];
  })());

afterAll(async () => {
  if (plainCtx) (await plainCtx).destroy();
});

const TOL = 2e-5;

function weight(ctx: GpuContext, format: WeightFormat, n: number, k: number, seed: number): { w: GpuWeight; wd: Float32Array } {
  const native = quantize(format, randomF32(n * k, seed));
  return { w: uploadWeight(ctx, format, n, k, native), wd: dequantize(format, native, n * k) };
}

/** Row `r` of a [rows, cols] matrix. */
const row = (a: Float32Array, r: number, cols: number): Float32Array => a.slice(r * cols, (r + 1) * cols);

describe('matmul decode fusions', () => {
  it('RMSNorm prologue: y = (rmsnorm(x[last]) * g) @ W^T, plain and with lastRowOnly over a prefill row', async () => {
    const cases: { n: number; k: number; format: WeightFormat }[] = [
      { n: 37, k: 100, format: 'f32' },
      { n: 45, k: 66, format: 'f16' },
      { n: 33, k: 96, format: 'q4_0' },
      { n: 70, k: 64, format: 'q8_0' },
    ];
    for (const dev of await devices()) {
      const { ctx, step } = dev;
      for (const { n, k, format } of cases) {
        const T = 3;
        const seed = n * 7 + k;
        const { w, wd } = weight(ctx, format, n, k, seed);
        const x = randomF32(T * k, seed + 1, 3);
        const g = randomF32(k, seed + 2);
        const eps = 1e-5;
        const xb = uploadStorage(ctx, x, 'x');
        const gb = uploadStorage(ctx, g, 'g');
        const y = createStorage(ctx, T * n * 4, 'y');
        for (const variant of dev.variants) {
          for (const tokens of [1, T]) {
            const lastRowOnly = tokens > 1;
            const want = matmulRef(rmsNormRef(row(x, tokens - 1, k), g, 1, k, eps), wd, 1, n, k);
            const ds = matmul(ctx, { step: step.buffer, x: xb, w, y, maxTokens: T, lastRowOnly, variant, fusion: { norm: { weight: gb, eps } } }, 'fused');
            expect(ds.length).toBe(1); // the GEMV alone
            await runDispatches(ctx, ds, { tokens, pos: 0, kvLen: tokens }, step);
            const got = await readF32(ctx, y, n);
            expect(compare(got, want).maxRel, `${dev.name} ${variant} ${format} ${n}x${k} tokens ${tokens}`).toBeLessThan(TOL);
          }
        }
        destroyWeight(w);
        for (const b of [xb, gb, y]) b.destroy();
      }
    }
  });

  it('gated prologue: y += (act(gate) * up) @ W^T for SiLU and GELU, gate|up fused in one buffer or apart', async () => {
    const I = 75;
    const n = 41;
    const T = 2;
    for (const dev of await devices()) {
      const { ctx, step } = dev;
      const { w, wd } = weight(ctx, 'f32', n, I, 11);
      const gateUp = randomF32(T * 2 * I, 12, 4); // rows: gate then up
      const gate = randomF32(T * I, 13, 4);
      const up = randomF32(T * I, 14);
      const y0 = randomF32(n, 15);
      const bufs = { gateUp: uploadStorage(ctx, gateUp, 'gate_up'), gate: uploadStorage(ctx, gate, 'gate'), up: uploadStorage(ctx, up, 'up') };
      const y = createStorage(ctx, T * n * 4, 'y');
      for (const variant of dev.variants) {
        for (const activation of ['silu', 'gelu_tanh'] as const) {
          for (const fusedIn of [true, false]) {
            // tokens == 1 reads row 0 (decode); a step of T tokens with lastRowOnly reads row T - 1
            for (const tokens of [1, T]) {
              const last = tokens - 1;
              const g = fusedIn ? gateUp.slice(last * 2 * I, last * 2 * I + I) : row(gate, last, I);
              const u = fusedIn ? gateUp.slice(last * 2 * I + I, (last + 1) * 2 * I) : row(up, last, I);
              const mlp = matmulRef(gatedActRef(activation, g, u), wd, 1, n, I);
              const want = y0.map((v, i) => v + mlp[i]!);
              const gated = fusedIn ? { up: bufs.gateUp, stride: 2 * I, upOffset: I, activation } : { up: bufs.up, stride: I, upOffset: 0, activation };
              writeBuffer(ctx, y, 0, y0);
              const ds = matmul(ctx, { step: step.buffer, x: fusedIn ? bufs.gateUp : bufs.gate, w, y, maxTokens: T, accumulate: true, lastRowOnly: tokens > 1, variant, fusion: { gated } }, 'down');
              await runDispatches(ctx, ds, { tokens, pos: 0, kvLen: tokens }, step);
              const got = await readF32(ctx, y, n);
              expect(compare(got, want).maxRel, `${dev.name} ${variant} ${activation} ${fusedIn ? 'fused' : 'apart'} tokens ${tokens}`).toBeLessThan(TOL);
            }
          }
        }
      }
      destroyWeight(w);
      for (const b of [...Object.values(bufs), y]) b.destroy();
    }
  });

  it('gate|up epilogue: RMSNorm in, act(gate) * up out ([I] per row) for SiLU and GELU', async () => {
    const cases: { I: number; k: number; format: WeightFormat }[] = [
      { I: 38, k: 50, format: 'f32' },
      { I: 48, k: 64, format: 'q4_0' },
    ];
    for (const dev of await devices()) {
      const { ctx, step } = dev;
      for (const { I, k, format } of cases) {
        const { w, wd } = weight(ctx, format, 2 * I, k, I + k);
        const x = randomF32(k, 31, 2);
        const g = randomF32(k, 32);
        const gu = matmulRef(rmsNormRef(x, g, 1, k, 1e-5), wd, 1, 2 * I, k);
        const xb = uploadStorage(ctx, x, 'x');
        const gb = uploadStorage(ctx, g, 'g');
        const y = createStorage(ctx, I * 4, 'act');
        for (const variant of dev.variants) {
          for (const activation of ['silu', 'gelu_tanh'] as const) {
            const want = gatedActRef(activation, gu.slice(0, I), gu.slice(I));
            const ds = matmul(ctx, { step: step.buffer, x: xb, w, y, maxTokens: 1, variant, fusion: { norm: { weight: gb, eps: 1e-5 }, gatedOut: { activation } } }, 'gate_up');
            await runDispatches(ctx, ds, { tokens: 1, pos: 0, kvLen: 1 }, step);
            expect(compare(await readF32(ctx, y, I), want).maxRel, `${dev.name} ${variant} ${format} ${activation}`).toBeLessThan(TOL);
          }
        }
        destroyWeight(w);
        for (const b of [xb, gb, y]) b.destroy();
      }
    }
  });

  it('Q|K|V epilogue: RMSNorm in, q rotated into its section, k rotated and v copied into the caches at the step position (interleaved and rotate-half, partial rotary too)', async () => {
    type Style = 'interleaved' | 'half';
    const shapes = [
      { heads: 3, kvHeads: 1, headDim: 12, rotaryDim: 12, k: 50, format: 'f32' as WeightFormat, style: 'interleaved' as Style },
      { heads: 4, kvHeads: 2, headDim: 16, rotaryDim: 10, k: 64, format: 'q4_0' as WeightFormat, style: 'interleaved' as Style },
      { heads: 3, kvHeads: 1, headDim: 12, rotaryDim: 12, k: 50, format: 'f16' as WeightFormat, style: 'half' as Style },
      { heads: 2, kvHeads: 2, headDim: 20, rotaryDim: 8, k: 64, format: 'q8_0' as WeightFormat, style: 'half' as Style },
    ];
    for (const dev of await devices()) {
      const { ctx, step } = dev;
      for (const s of shapes) {
        const qDim = s.heads * s.headDim;
        const kvDim = s.kvHeads * s.headDim;
        const n = qDim + 2 * kvDim;
        const maxCtx = 9;
        const pos = 6;
        const { w, wd } = weight(ctx, s.format, n, s.k, n + s.k);
        const x = randomF32(s.k, 21, 2);
        const g = randomF32(s.k, 22);
        const invF = Float32Array.from({ length: s.rotaryDim / 2 }, (_, j) => 10000 ** (-(2 * j) / s.rotaryDim));
        const qkvRef = matmulRef(rmsNormRef(x, g, 1, s.k, 1e-6), wd, 1, n, s.k);
        const q = ropeRef(qkvRef.slice(0, qDim), 1, s.heads, s.headDim, s.rotaryDim, invF, s.style, pos, true);
        const kCache0 = randomF32(kvDim * maxCtx, 23);
        const vCache0 = randomF32(kvDim * maxCtx, 24);
        const kWant = new Float32Array(kCache0);
        const vWant = new Float32Array(vCache0);
        kvAppendRef(kWant, vWant, qkvRef.slice(qDim, qDim + kvDim), qkvRef.slice(qDim + kvDim), 1, s.kvHeads, s.headDim, maxCtx, pos, { invFreq: invF, rotaryDim: s.rotaryDim, style: s.style });
        const sections = [
          { width: qDim, offset: 0 },
          { width: kvDim, offset: 64 * Math.ceil(qDim / 64) },
          { width: kvDim, offset: 64 * Math.ceil(qDim / 64) + 64 },
        ];
        const xb = uploadStorage(ctx, x, 'x');
        const gb = uploadStorage(ctx, g, 'g');
        const fb = uploadStorage(ctx, invF, 'inv_freq');
        const kc = uploadStorage(ctx, kCache0, 'k');
        const vc = uploadStorage(ctx, vCache0, 'v');
        const y = createStorage(ctx, (sections[2]!.offset + kvDim) * 4, 'qkv');
        for (const variant of dev.variants) {
          writeBuffer(ctx, kc, 0, kCache0);
          writeBuffer(ctx, vc, 0, vCache0);
          const ropeKv = { invFreq: fb, rotaryDim: s.rotaryDim, style: s.style, headDim: s.headDim, kCache: kc, vCache: vc, maxCtx };
          const ds = matmul(ctx, { step: step.buffer, x: xb, w, y, maxTokens: 1, sections, variant, fusion: { norm: { weight: gb, eps: 1e-6 }, ropeKv } }, 'qkv');
          await runDispatches(ctx, ds, { tokens: 1, pos, kvLen: pos + 1 }, step);
          const what = `${dev.name} ${variant} ${JSON.stringify(s)}`;
          // rotation in f32 with the kernel's cos/sin: a few ulps of the largest value
          expect(compare(await readF32(ctx, y, qDim), q).maxRel, `${what}: q`).toBeLessThan(1e-5);
          expect(compare(await readF32(ctx, kc), kWant).maxRel, `${what}: k cache`).toBeLessThan(1e-5);
          expect(compare(await readF32(ctx, vc), vWant).maxRel, `${what}: v cache`).toBeLessThan(1e-5);
        }
        destroyWeight(w);
        for (const b of [xb, gb, fb, kc, vc, y]) b.destroy();
      }
    }
  });

  it('norm-feeding epilogue: x += a @ W1^T also writes x * g and partial sums of squares, which the next GEMV takes as its RMSNorm', async () => {
    const cases: { kIn: number; d: number; n: number; f1: WeightFormat; f2: WeightFormat }[] = [
      { kIn: 40, d: 66, n: 37, f1: 'f32', f2: 'f16' }, // d not a multiple of 4: a ragged last group, scalar x loads
      { kIn: 96, d: 100, n: 45, f1: 'q8_0', f2: 'f32' },
      { kIn: 64, d: 96, n: 33, f1: 'q4_1', f2: 'q4_1' },
      { kIn: 33, d: 128, n: 70, f1: 'f16', f2: 'q4_0' },
    ];
    for (const dev of await devices()) {
      const { ctx, step } = dev;
      for (const { kIn, d, n, f1, f2 } of cases) {
        const seed = kIn * 13 + d;
        const w1 = weight(ctx, f1, d, kIn, seed);
        const w2 = weight(ctx, f2, n, d, seed + 1);
        const a = randomF32(kIn, seed + 2);
        const x0 = randomF32(d, seed + 3, 3);
        const g = randomF32(d, seed + 4);
        const eps = 1e-6;
        const x1 = matmulRef(a, w1.wd, 1, d, kIn).map((v, i) => v + x0[i]!);
        const want = matmulRef(rmsNormRef(x1, g, 1, d, eps), w2.wd, 1, n, d);
        const ab = uploadStorage(ctx, a, 'a');
        const gb = uploadStorage(ctx, g, 'g');
        const xb = createStorage(ctx, d * 4, 'x');
        const xg = createStorage(ctx, d * 4, 'xg');
        const partials = createStorage(ctx, normPartialsBytes(d), 'partials');
        const y = createStorage(ctx, n * 4, 'y');
        for (const variant of dev.variants) {
          writeBuffer(ctx, xb, 0, x0);
          const producer = matmul(ctx, { step: step.buffer, x: ab, w: w1.w, y: xb, accumulate: true, maxTokens: 1, variant, fusion: { normOut: { weight: gb, xg, partials } } }, 'down');
          const consumer = matmul(ctx, { step: step.buffer, x: xg, w: w2.w, y, maxTokens: 1, variant, fusion: { norm: { weight: gb, eps, partials } } }, 'qkv');
          expect(producer.length + consumer.length).toBe(2);
          await runDispatches(ctx, [...producer, ...consumer], { tokens: 1, pos: 0, kvLen: 1 }, step);
          const what = `${dev.name} ${variant} ${f1}/${f2} ${kIn}->${d}->${n}`;
          expect(compare(await readF32(ctx, xb, d), x1).maxRel, `${what}: x`).toBeLessThan(TOL);
          expect(compare(await readF32(ctx, xg, d), x1.map((v, i) => v * g[i]!)).maxRel, `${what}: xg`).toBeLessThan(TOL);
          const sums = await readF32(ctx, partials, normPartialsBytes(d) / 4);
          const wantSums = Array.from({ length: normPartialsBytes(d) / 4 }, (_, j) => x1.slice(4 * j, 4 * j + 4).reduce((s, v) => s + v * v, 0));
          expect(compare(sums, new Float32Array(wantSums)).maxRel, `${what}: partials (zero padding included)`).toBeLessThan(TOL);
          expect(compare(await readF32(ctx, y, n), want).maxRel, `${what}: y`).toBeLessThan(TOL);
          for (const ds of [producer, consumer]) for (const x of ds) for (const b of x.owned ?? []) b.destroy();
        }
        destroyWeight(w1.w);
        destroyWeight(w2.w);
        for (const b of [ab, gb, xb, xg, partials, y]) b.destroy();
      }
    }
  });

  it('refuses what the fused kernels cannot do, with a typed error', async () => {
    const dev = (await devices())[0]!;
    const { ctx, step } = dev;
    const { w } = weight(ctx, 'f32', 8, 8, 1);
    const x = createStorage(ctx, 64, 'x');
    const y = createStorage(ctx, 256, 'y');
    const small = createStorage(ctx, 16, 'g');
    expect(() => matmul(ctx, { step: step.buffer, x, w, y, maxTokens: 1, fusion: { norm: { weight: small, eps: 1e-5 } } })).toThrow(/norm weight holds 4 floats, fewer than K/);
    expect(() =>
      matmul(ctx, { step: step.buffer, x, w, y, maxTokens: 1, fusion: { ropeKv: { invFreq: small, rotaryDim: 4, style: 'interleaved', headDim: 4, kCache: y, vCache: y, maxCtx: 2 } } }),
    ).toThrow(/three output sections/);
    destroyWeight(w);
    for (const b of [x, y, small]) b.destroy();
  });
});
