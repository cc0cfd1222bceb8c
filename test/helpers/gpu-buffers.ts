/** GPU buffer accounting for leak checks (tests and benchmarks). */
/**
 * Live GPU buffers on a device, counted from now on: wraps createBuffer and each new buffer's
 * destroy. For checking that requests leave nothing behind.
 */
export function countBuffers(device: GPUDevice): { live(): number; bytes(): number; created(): number; stop(): void } {
  const live = new Map<GPUBuffer, number>();
  const create = device.createBuffer;
  let created = 0;
  device.createBuffer = function (desc: GPUBufferDescriptor): GPUBuffer {
    const b = create.call(device, desc);
    created++;
    live.set(b, desc.size);
    const destroy = b.destroy.bind(b);
    b.destroy = () => {
      live.delete(b);
      destroy();
    };
    return b;
  };
  return {
    live: () => live.size,
    bytes: () => [...live.values()].reduce((a, b) => a + b, 0),
    created: () => created,
    stop: () => {
      device.createBuffer = create;
    },
  };
}
