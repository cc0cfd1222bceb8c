// Hearth's worker entry with its GPU buffers counted: GPUDevice.prototype.createBuffer and
// GPUBuffer.prototype.destroy are wrapped before the engine host makes its device, so every buffer
// the engine, its kernels and its readbacks create is seen. The page asks for the count through a
// second Comlink handle on the same worker (liveGpuBuffers).
import * as Comlink from 'comlink';
import { EngineHost } from '../../../src/worker/host.js';
import { installErrorTransfer } from '../../../src/worker/errors.js';

const live = new Map<GPUBuffer, number>();
const create = GPUDevice.prototype.createBuffer;
GPUDevice.prototype.createBuffer = function (this: GPUDevice, desc: GPUBufferDescriptor): GPUBuffer {
  const b = create.call(this, desc);
  live.set(b, desc.size);
  return b;
};
const destroy = GPUBuffer.prototype.destroy;
GPUBuffer.prototype.destroy = function (this: GPUBuffer): undefined {
  live.delete(this);
  return destroy.call(this);
};

class CountingHost extends EngineHost {
  /** GPU buffers created and not destroyed, and their bytes. */
  liveGpuBuffers(): { count: number; bytes: number; labels: string[] } {
    let bytes = 0;
    for (const n of live.values()) bytes += n;
    return { count: live.size, bytes, labels: [...live.keys()].map((b) => b.label) };
  }
}

installErrorTransfer();
Comlink.expose(new CountingHost());
