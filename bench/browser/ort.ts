/**
 * ONNX Runtime Web's side of the op comparison: tiny single-op ONNX graphs built here with
 * onnx-proto (weights as initializers, so they live on the GPU after session creation), inputs
 * as GPU tensors and outputs bound to preallocated GPU tensors (GroupQueryAttention's are left to
 * ORT, which sizes present K/V itself, and disposed after each run), so no transfer is timed.
 *
 * Two builds of ORT are supported, each loaded from node_modules by URL:
 *  - 'webgpu': onnxruntime-web/webgpu, the C++ WebGPU execution provider (what transformers.js imports)
 *  - 'jsep':   onnxruntime-web's default build, the older JS-side WebGPU kernels
 */
import { onnx } from 'onnx-proto';
import { randomBytes, randomF16Bits, randomF32 } from '../lib/data.js';
import type { AttentionCase } from '../lib/ours.js';
import { PassTimer, type PassTiming } from './pass-timer.js';

/** The slice of onnxruntime-web's API we use (its types are not importable from a URL). */
interface OrtTensor {
  dims: readonly number[];
  dispose(): void;
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>, fetches?: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
  inputNames: readonly string[];
  outputNames: readonly string[];
}
interface Ort {
  env: {
    wasm: { wasmPaths?: string; numThreads?: number; proxy?: boolean };
    webgpu: { device: Promise<GPUDevice> };
    logLevel?: string;
    versions?: Record<string, string>;
  };
  InferenceSession: { create(model: Uint8Array, opts: Record<string, unknown>): Promise<OrtSession> };
  Tensor: {
    new (type: string, data: ArrayBufferView, dims: number[]): OrtTensor;
    fromGpuBuffer(buffer: GPUBuffer, opts: { dataType: string; dims: number[] }): OrtTensor;
  };
}

export type OrtBuild = 'webgpu' | 'jsep';

const DT = onnx.TensorProto.DataType;
type ElemType = 'float32' | 'float16';
const ONNX_TYPE: Record<ElemType, number> = { float32: DT.FLOAT, float16: DT.FLOAT16 };

let ort: Ort | null = null;
let device: GPUDevice | null = null;
let timer: PassTimer | null = null;

/**
 * Load one ORT build. It creates its own device on the first session (the adapter's shader-f16 and
 * timestamp-query where present: GetAvailableRequiredFeatures in its WebGPU provider); we only
 * time that device's passes from the outside, through a PassTimer.
 */
export async function loadOrt(build: OrtBuild): Promise<{ version: string; file: string }> {
  const file = build === 'webgpu' ? 'ort.webgpu.min.mjs' : 'ort.min.mjs';
  const url = `/peers/ort/${file}`;
  ort = (await import(/* @vite-ignore */ url)) as Ort;
  ort.env.wasm.wasmPaths = '/peers/ort/';
  // single-op graphs: wasm threads would only add start-up time
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
  // The C++ provider tears its device down with the last session, and a new session gets a new
  // device (our GPU tensors would belong to the old one): one small session stays open throughout,
  // as an app's would.
  // JSEP's device has no timestamp-query unless its own profiler is on (and then its timestamps
  // would hide its passes from the PassTimer); handing it a device of ours did not take: its GPU
  // times are left out, its wall times stand.
  const anchor = model([{ opType: 'Relu', input: ['X'], output: ['Y'] }], [], [valueInfo('X', DT.FLOAT, [4])], [valueInfo('Y', DT.FLOAT, [4])]);
  const session = await ort.InferenceSession.create(anchor, { executionProviders: ['webgpu'] });
  const r = await session.run({ X: new ort.Tensor('float32', new Float32Array(4), [4]) });
  for (const t of Object.values(r)) t.dispose();
  device = await ort.env.webgpu.device;
  timer = device.features.has('timestamp-query') ? new PassTimer(device) : null;
  return { version: ort.env.versions?.web ?? ort.env.versions?.common ?? 'unknown', file };
}

/** Features of the device ORT made (after its first session). */
export function ortFeatures(): string[] {
  return device ? [...device.features].sort() : [];
}

function valueInfo(name: string, elemType: number, dims: number[]): onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } };
}

function initializer(name: string, dataType: number, dims: number[], raw: Uint8Array): onnx.ITensorProto {
  return { name, dataType, dims, rawData: raw };
}

const attrInt = (name: string, i: number): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i });

function model(nodes: onnx.INodeProto[], inits: onnx.ITensorProto[], inputs: onnx.IValueInfoProto[], outputs: onnx.IValueInfoProto[]): Uint8Array {
  const m = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'hearth-bench',
    opsetImport: [
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph: { name: 'op', node: nodes, initializer: inits, input: inputs, output: outputs },
  });
  return onnx.ModelProto.encode(m).finish();
}

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function randomTensorBytes(t: ElemType, n: number, seed: number): Uint8Array {
  return t === 'float32' ? bytesOf(randomF32(n, seed)) : bytesOf(randomF16Bits(n, seed));
}

export type OrtMatmulKind = 'MatMul-f32' | 'MatMul-f16' | 'MatMulNBits-4' | 'MatMulNBits-8';

/** The graph and the bytes of weights it reads, for Y[M, N] = A[M, K] @ W. */
function matmulGraph(kind: OrtMatmulKind, m: number, n: number, k: number): { bytes: Uint8Array; weightBytes: number; elem: ElemType } {
  if (kind === 'MatMul-f32' || kind === 'MatMul-f16') {
    const elem: ElemType = kind === 'MatMul-f32' ? 'float32' : 'float16';
    const w = randomTensorBytes(elem, k * n, n * 31 + k);
    return {
      elem,
      weightBytes: w.byteLength,
      bytes: model([{ opType: 'MatMul', input: ['A', 'B'], output: ['Y'] }], [initializer('B', ONNX_TYPE[elem], [k, n], w)], [valueInfo('A', ONNX_TYPE[elem], [m, k])], [valueInfo('Y', ONNX_TYPE[elem], [m, n])]),
    };
  }
  // MatMulNBits (com.microsoft), as transformers.js's q4 models use it: f32 activations and scales, block 32, no zero points (8 / 128 implied)
  const bits = kind === 'MatMulNBits-4' ? 4 : 8;
  const nb = k / 32;
  const blob = (32 * bits) / 8;
  const b = randomBytes(new Uint8Array(n * nb * blob), n * 31 + k);
  const scales = randomF32(n * nb, 5, 0.01);
  return {
    elem: 'float32',
    weightBytes: b.byteLength + scales.byteLength,
    bytes: model(
      [{ opType: 'MatMulNBits', domain: 'com.microsoft', input: ['A', 'B', 'scales'], output: ['Y'], attribute: [attrInt('K', k), attrInt('N', n), attrInt('bits', bits), attrInt('block_size', 32)] }],
      [initializer('B', DT.UINT8, [n, nb, blob], b), initializer('scales', DT.FLOAT, [n * nb], bytesOf(scales))],
      [valueInfo('A', DT.FLOAT, [m, k])],
      [valueInfo('Y', DT.FLOAT, [m, n])],
    ),
  };
}

export interface OrtOp {
  weightBytes: number;
  /** Wall ms per run: `iters` runs back to back, then the device drained. */
  wall(iters: number): Promise<number>;
  /** GPU ms per run of the compute passes ORT recorded, by pass; null without timestamp-query. */
  gpu(iters: number): Promise<(PassTiming & { perRun: number }) | null>;
  destroy(): Promise<void>;
}

const STORAGE_IO = 0x80 | 0x04 | 0x08; // STORAGE | COPY_SRC | COPY_DST

async function gpuTensor(elem: ElemType | 'int32', dims: number[], data: Uint8Array): Promise<{ t: OrtTensor; buf: GPUBuffer }> {
  const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
  const buf = device!.createBuffer({ size, usage: STORAGE_IO });
  const padded = new Uint8Array(size);
  padded.set(data);
  device!.queue.writeBuffer(buf, 0, padded);
  return { t: ort!.Tensor.fromGpuBuffer(buf, { dataType: elem, dims }), buf };
}

/** A session over `graph` with GPU feeds and preallocated GPU fetches, wrapped as an OrtOp. */
async function prepare(
  graph: Uint8Array,
  weightBytes: number,
  gpuFeeds: { name: string; elem: ElemType; dims: number[] }[],
  cpuFeeds: Record<string, OrtTensor>,
  outs: { name: string; elem: ElemType; dims: number[] }[],
): Promise<OrtOp> {
  const o = ort!;
  // ORT's default graph optimizations, as transformers.js leaves them
  const session = await o.InferenceSession.create(graph, { executionProviders: ['webgpu'], preferredOutputLocation: 'gpu-buffer' });
  if ((await o.env.webgpu.device) !== device) throw new Error('ONNX Runtime changed its WebGPU device');
  const buffers: GPUBuffer[] = [];
  const feeds: Record<string, OrtTensor> = { ...cpuFeeds };
  for (const [i, f] of gpuFeeds.entries()) {
    const n = f.dims.reduce((a, b) => a * b, 1);
    const g = await gpuTensor(f.elem, f.dims, randomTensorBytes(f.elem, n, 100 + i));
    feeds[f.name] = g.t;
    buffers.push(g.buf);
  }
  const fetches: Record<string, OrtTensor> = {};
  for (const f of outs) {
    const bytes = f.dims.reduce((a, b) => a * b, 1) * (f.elem === 'float32' ? 4 : 2);
    const g = await gpuTensor(f.elem, f.dims, new Uint8Array(bytes));
    fetches[f.name] = g.t;
    buffers.push(g.buf);
  }
  // Preallocated outputs where the build takes them (no allocation per run); else ORT's own, disposed each run.
  let bound = outs.length > 0;
  const runOnce = async (): Promise<void> => {
    if (bound) {
      try {
        await session.run(feeds, fetches);
        return;
      } catch (e) {
        bound = false;
        console.warn(`ORT would not bind preallocated outputs (${String(e)}); letting it allocate`);
      }
    }
    const r = await session.run(feeds);
    for (const t of Object.values(r)) t.dispose();
  };
  await runOnce(); // warm-up: pipelines, buffer cache
  await device.queue.onSubmittedWorkDone();
  return {
    weightBytes,
    async wall(iters) {
      await device!.queue.onSubmittedWorkDone();
      const t0 = performance.now();
      for (let i = 0; i < iters; i++) await runOnce();
      await device!.queue.onSubmittedWorkDone();
      return (performance.now() - t0) / iters;
    },
    async gpu(iters) {
      if (!timer) return null;
      await device!.queue.onSubmittedWorkDone();
      timer.start();
      for (let i = 0; i < iters; i++) await runOnce();
      const t = await timer.stop();
      for (const key of Object.keys(t.byLabel)) t.byLabel[key]! /= iters;
      return { ...t, perRun: t.ms / iters };
    },
    async destroy() {
      await session.release();
      for (const b of buffers) b.destroy();
    },
  };
}

export async function prepareOrtMatmul(kind: OrtMatmulKind, m: number, n: number, k: number): Promise<OrtOp> {
  // without shader-f16 ORT either refuses at run time or builds invalid pipelines: not a figure
  if (kind === 'MatMul-f16' && !(await navigator.gpu.requestAdapter())?.features.has('shader-f16')) throw new Error('not run: the adapter has no shader-f16');
  const g = matmulGraph(kind, m, n, k);
  return prepare(g.bytes, g.weightBytes, [{ name: 'A', elem: g.elem, dims: [m, k] }], {}, [{ name: 'Y', elem: g.elem, dims: [m, n] }]);
}

/**
 * GroupQueryAttention (com.microsoft), as transformers.js's exported LLMs use it: new Q/K/V for
 * the step plus past K/V in, output and present K/V out, no rotary (ours is timed without it too).
 */
export async function prepareOrtGqa(c: AttentionCase, elem: ElemType = 'float32'): Promise<OrtOp> {
  const s = c.mode === 'decode' ? 1 : c.kvLen;
  const past = c.kvLen - s;
  const t = ONNX_TYPE[elem];
  const hq = c.heads * c.headDim;
  const hkv = c.kvHeads * c.headDim;
  const inputs = [
    valueInfo('query', t, [1, s, hq]),
    valueInfo('key', t, [1, s, hkv]),
    valueInfo('value', t, [1, s, hkv]),
    ...(past ? [valueInfo('past_key', t, [1, c.kvHeads, past, c.headDim]), valueInfo('past_value', t, [1, c.kvHeads, past, c.headDim])] : []),
    valueInfo('seqlens_k', DT.INT32, [1]),
    valueInfo('total_sequence_length', DT.INT32, []),
  ];
  // Outputs carry no shape: ORT's shape inference takes present's length from the past when
  // total_sequence_length is not a constant, and would then reject the real one at run time.
  const untyped = (name: string): onnx.IValueInfoProto => ({ name, type: { tensorType: { elemType: t } } });
  const outputs = [untyped('output'), untyped('present_key'), untyped('present_value')];
  const graph = model(
    [
      {
        opType: 'GroupQueryAttention',
        domain: 'com.microsoft',
        input: ['query', 'key', 'value', past ? 'past_key' : '', past ? 'past_value' : '', 'seqlens_k', 'total_sequence_length'],
        output: ['output', 'present_key', 'present_value'],
        attribute: [attrInt('num_heads', c.heads), attrInt('kv_num_heads', c.kvHeads)],
      },
    ],
    [],
    inputs,
    outputs,
  );
  const gpuFeeds = [
    { name: 'query', elem, dims: [1, s, hq] },
    { name: 'key', elem, dims: [1, s, hkv] },
    { name: 'value', elem, dims: [1, s, hkv] },
    ...(past
      ? [
          { name: 'past_key', elem, dims: [1, c.kvHeads, past, c.headDim] },
          { name: 'past_value', elem, dims: [1, c.kvHeads, past, c.headDim] },
        ]
      : []),
  ];
  const o = ort!;
  const cpuFeeds = {
    seqlens_k: new o.Tensor('int32', Int32Array.of(c.kvLen - 1), [1]),
    total_sequence_length: new o.Tensor('int32', Int32Array.of(c.kvLen), []),
  };
  // outputs left to ORT (present's length is its call), disposed after every run
  return prepare(graph, 2 * c.kvHeads * c.kvLen * c.headDim * (elem === 'float32' ? 4 : 2), gpuFeeds, cpuFeeds, []);
}

export function ortDevice(): GPUDevice | null {
  return device;
}
