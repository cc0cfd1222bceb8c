// Runs a real kernel on the browser's WebGPU inside a Web Worker and checks it against the reference.
import { createGpuContext } from '../../../src/gpu/device.js';
import { createStorage, readF32, uploadStorage } from '../../../src/gpu/buffers.js';
import { StepUniform, runDispatches } from '../../../src/gpu/dispatch.js';
import { rmsNorm } from '../../../src/kernels/rmsnorm.js';
import { rmsNormRef } from '../../../src/reference/norm.js';

async function main() {
  const ctx = await createGpuContext(navigator.gpu);
  const rows = 5;
  const cols = 129;
  const x = new Float32Array(rows * cols).map((_, i) => Math.sin(i * 0.37) * 3);
  const w = new Float32Array(cols).map((_, i) => Math.cos(i * 0.11));
  const step = new StepUniform(ctx);
  const out = createStorage(ctx, x.byteLength, 'y');
  const d = rmsNorm(ctx, { step: step.buffer, x: uploadStorage(ctx, x, 'x'), weight: uploadStorage(ctx, w, 'w'), out, cols, eps: 1e-5 });
  await runDispatches(ctx, [d], { tokens: rows, pos: 0, kvLen: rows }, step);
  const got = await readF32(ctx, out, rows * cols);
  const want = rmsNormRef(x, w, rows, cols, 1e-5);
  let maxErr = 0;
  for (let i = 0; i < want.length; i++) maxErr = Math.max(maxErr, Math.abs(got[i]! - want[i]!));
  postMessage({ adapter: ctx.adapterInfo, features: ctx.features, maxErr, inWorker: typeof (self as unknown as { document?: unknown }).document === 'undefined' });
  ctx.destroy();
}

main().catch((e: unknown) => postMessage({ error: String(e instanceof Error ? `${e.name}: ${e.message}` : e) }));
