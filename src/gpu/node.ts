import { existsSync } from 'node:fs';
import { HearthError } from '../errors.js';
import { createGpuContext, type CreateGpuOptions, type GpuContext } from './device.js';

/** Where Debian's (and most distributions') chromium package puts SwiftShader's Vulkan ICD. */
const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/opt/google/chrome/vk_swiftshader_icd.json',
];

let gpuPromise: Promise<GPU> | null = null;

/**
 * Dawn's GPU object in Node (the `webgpu` package), with WebGPU's globals (GPUBufferUsage, ...)
 * installed on globalThis. When no real Vulkan driver is found, fall back to SwiftShader.
 */
export function getNodeGpu(): Promise<GPU> {
  gpuPromise ??= (async () => {
    let mod: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
    try {
      mod = (await import('webgpu')) as unknown as typeof mod;
    } catch (cause) {
      throw new HearthError('WEBGPU_UNAVAILABLE', 'The "webgpu" package (Dawn for Node) could not be loaded.', {
        cause,
        hint: 'Install it: npm install webgpu. On Linux it also needs libvulkan1.',
      });
    }
    Object.assign(globalThis, mod.globals);
    let gpu = mod.create([]);
    if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES) {
      const probe = await gpu.requestAdapter().catch(() => null);
      const icd = SWIFTSHADER_ICDS.find((p) => existsSync(p));
      if (!probe && icd) {
        process.env.VK_ICD_FILENAMES = icd;
        gpu = mod.create([]);
      }
    }
    return gpu;
  })();
  return gpuPromise;
}

/** A GpuContext on Dawn in Node. */
export async function createNodeGpuContext(options: CreateGpuOptions = {}): Promise<GpuContext> {
  return createGpuContext(await getNodeGpu(), options);
}
