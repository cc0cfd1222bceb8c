import { HearthError } from '../errors.js';
import type { GpuContext } from './device.js';

export const STORAGE = 0x80; // GPUBufferUsage.STORAGE, spelled out so this module loads before globals exist
const COPY_SRC = 0x04;
const COPY_DST = 0x08;
const MAP_READ = 0x01;
const UNIFORM = 0x40;

export const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

/** A storage buffer no larger than one binding allows (WebGPU requires sizes that are multiples of 4). */
/**
 * A whole buffer, or a range of one that a kernel binds as if it were a buffer (the offset a
 * multiple of minStorageBufferOffsetAlignment, 256 bytes at most): e.g. the q, k and v sections
 * of one fused projection's output.
 */
export type BufferRange = GPUBuffer | { buffer: GPUBuffer; offset: number; size: number };

export function createStorage(ctx: GpuContext, byteLength: number, label: string): GPUBuffer {
  const size = Math.max(16, roundUp(byteLength, 16));
  if (size > ctx.limits.maxStorageBufferBindingSize || size > ctx.limits.maxBufferSize) {
    throw new HearthError('BUFFER_TOO_LARGE', `Buffer ${label} needs ${size} bytes, above this GPU's binding limit of ${ctx.limits.maxStorageBufferBindingSize}.`, {
      hint: 'Use a smaller context length or a more compact weight format (q4_0).',
      details: { label, size, limit: ctx.limits.maxStorageBufferBindingSize },
    });
  }
  return ctx.device.createBuffer({ label, size, usage: STORAGE | COPY_SRC | COPY_DST });
}

/** A storage buffer holding `data`. */
export function uploadStorage(ctx: GpuContext, data: ArrayBufferView, label: string): GPUBuffer {
  const buf = createStorage(ctx, data.byteLength, label);
  writeBuffer(ctx, buf, 0, data);
  return buf;
}

/** queue.writeBuffer, padding the write to a multiple of 4 bytes as WebGPU requires. */
export function writeBuffer(ctx: GpuContext, buf: GPUBuffer, offset: number, data: ArrayBufferView): void {
  // WebGPU takes ArrayBuffer-backed views; our data never lives in a SharedArrayBuffer
  const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  if (bytes.byteLength % 4 === 0) {
    ctx.device.queue.writeBuffer(buf, offset, bytes);
  } else {
    const padded = new Uint8Array(roundUp(bytes.byteLength, 4));
    padded.set(bytes);
    ctx.device.queue.writeBuffer(buf, offset, padded);
  }
}

export function createUniform(ctx: GpuContext, byteLength: number, label: string): GPUBuffer {
  return ctx.device.createBuffer({ label, size: Math.max(16, roundUp(byteLength, 16)), usage: UNIFORM | COPY_DST });
}

/** A uniform buffer holding `data` (a small struct of u32/f32 fields). */
export function uploadUniform(ctx: GpuContext, data: ArrayBufferView, label: string): GPUBuffer {
  const buf = createUniform(ctx, data.byteLength, label);
  writeBuffer(ctx, buf, 0, data);
  return buf;
}

/** Copy a range of a GPU buffer back to the CPU. For tests, sampling results and the kernel lab. */
export async function readBuffer(ctx: GpuContext, src: GPUBuffer, byteOffset = 0, byteLength = src.size - byteOffset): Promise<ArrayBuffer> {
  const size = roundUp(byteLength, 4);
  const staging = ctx.device.createBuffer({ label: 'readback', size, usage: MAP_READ | COPY_DST });
  const enc = ctx.device.createCommandEncoder({ label: 'readback' });
  enc.copyBufferToBuffer(src, byteOffset, staging, 0, size);
  ctx.device.queue.submit([enc.finish()]);
  await staging.mapAsync(MAP_READ);
  const out = staging.getMappedRange().slice(0, byteLength);
  staging.unmap();
  staging.destroy();
  return out;
}

export async function readF32(ctx: GpuContext, src: GPUBuffer, count?: number, offsetElems = 0): Promise<Float32Array> {
  const n = count ?? src.size / 4 - offsetElems;
  return new Float32Array(await readBuffer(ctx, src, offsetElems * 4, n * 4));
}

export async function readU32(ctx: GpuContext, src: GPUBuffer, count?: number, offsetElems = 0): Promise<Uint32Array> {
  const n = count ?? src.size / 4 - offsetElems;
  return new Uint32Array(await readBuffer(ctx, src, offsetElems * 4, n * 4));
}

/**
 * A reusable readback buffer for a small, fixed-size result (a sampled token id, its
 * logprobs). Decode reads one every token, so it must not allocate per token.
 */
export class Readback {
  readonly buffer: GPUBuffer;
  constructor(private ctx: GpuContext, readonly byteLength: number, label = 'readback') {
    this.buffer = ctx.device.createBuffer({ label, size: roundUp(byteLength, 4), usage: MAP_READ | COPY_DST });
  }
  copyFrom(enc: GPUCommandEncoder, src: GPUBuffer, srcOffset = 0): void {
    enc.copyBufferToBuffer(src, srcOffset, this.buffer, 0, this.buffer.size);
  }
  /** Map, copy out, unmap. Call after the submit that recorded copyFrom. */
  async read(): Promise<ArrayBuffer> {
    await this.buffer.mapAsync(MAP_READ);
    const out = this.buffer.getMappedRange().slice(0, this.byteLength);
    this.buffer.unmap();
    return out;
  }
  destroy(): void {
    this.buffer.destroy();
  }
}
