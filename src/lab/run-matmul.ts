import { createStorage, readF32, uploadStorage } from '../gpu/buffers.js';
import type { GpuContext } from '../gpu/device.js';
import { destroyWeight, uploadWeight } from '../gpu/weights.js';
import { matmul } from '../kernels/matmul.js';
import { matmulRef } from '../reference/matmul.js';
import { dequantize, nativeByteLength } from '../quant/formats.js';
import { ErrorTally, TOLERANCE } from './check.js';
import { randomF32, randomNativeWeight, sampleIndices } from './data.js';
import { BufferSet, type PreparedCase } from './prepared.js';
import type { LabCase } from './types.js';

type MatmulCase = Extract<LabCase, { family: 'gemv' | 'gemm' }>;

/**
 * Outputs compared with the reference, each one K-long dot product on the CPU: all of them when
 * that is cheap, else a sample of rows for a few tokens.
 */
const FULL_CHECK_MACS = 1 << 22;
const SAMPLE_ROWS = 192;
const SAMPLE_TOKENS = 4;

/** GEMV (one token, decode) or GEMM (M tokens, prefill): y = x @ w^T with w in its storage format. */
export function prepareMatmul(ctx: GpuContext, c: MatmulCase, step: GPUBuffer): PreparedCase {
  const m = c.family === 'gemm' ? c.m : 1;
  const { n, k, format } = c;
  const seed = n * 31 + k * 7 + m;
  const native = randomNativeWeight(format, n, k, seed);
  const x = randomF32(m * k, seed + 1);
  const bufs = new BufferSet();
  const w = uploadWeight(ctx, format, n, k, native, { label: `lab.${c.family}.w` });
  const xb = bufs.add(uploadStorage(ctx, x, 'lab.x'));
  const y = bufs.add(createStorage(ctx, m * n * 4, 'lab.y'));
  const dispatches = matmul(ctx, { step, x: xb, w, y, maxTokens: m, variant: c.variant }, `lab.${c.family}`);
  const rowBytes = nativeByteLength(format, 1, k);

  return {
    dispatches,
    step: { tokens: m, pos: 0, kvLen: m },
    // the weight as it lies on the GPU (with its scales), x in, y out
    bytes: w.bytes + (m * k + m * n) * 4,
    flops: 2 * m * n * k,
    async verify() {
      const got = await readF32(ctx, y, m * n);
      const tally = new ErrorTally(TOLERANCE[c.family], m * n);
      const all = m * n * k <= FULL_CHECK_MACS;
      const tokens = sampleIndices(m, all ? m : SAMPLE_TOKENS, seed + 2);
      for (const j of sampleIndices(n, all ? n : SAMPLE_ROWS, seed + 3)) {
        const row = dequantize(format, native.subarray(j * rowBytes, (j + 1) * rowBytes), k);
        for (const t of tokens) {
          const want = matmulRef(x.subarray(t * k, (t + 1) * k), row, 1, 1, k);
          tally.add([got[t * n + j]!], want);
        }
      }
      return tally.result();
    },
    destroy() {
      destroyWeight(w);
      bufs.destroy();
    },
  };
}
