import { HearthError } from '../errors.js';
import { PipelineCache } from './pipelines.js';

/** Optional features Hearth uses when the adapter has them. None is required. */
export interface GpuFeatures {
  shaderF16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
  /**
   * WGSL's packed_4x8_integer_dot_product language feature (dot4I8Packed, from
   * navigator.gpu.wgslLanguageFeatures): the integer dot products of quantized GEMVs.
   */
  packedDot4x8: boolean;
}

export interface GpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

/** The limits kernels plan around, as granted to our device (raised to the adapter's maximum). */
export interface GpuLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupSizeY: number;
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBuffersPerShaderStage: number;
  minStorageBufferOffsetAlignment: number;
  minUniformBufferOffsetAlignment: number;
}

export interface GpuContext {
  device: GPUDevice;
  adapterInfo: GpuAdapterInfo;
  features: GpuFeatures;
  limits: GpuLimits;
  pipelines: PipelineCache;
  /**
   * Set once the device is lost (a driver reset, a GPU process crash, a background tab on
   * mobile, or device.destroy() by anyone but `destroy()` below); every later use fails with
   * DEVICE_LOST. Stays null when Hearth destroyed the device itself.
   */
  lost: { reason: string; message: string } | null;
  /** WebGPU errors no error scope caught (validation, out-of-memory, internal): counted and the last kept, never dropped. */
  uncaptured: { count: number; last: { type: string; message: string } | null };
  /** Resolves when the device is lost, however (destroy() included), with what `lost` holds. */
  whenLost: Promise<{ reason: string; message: string }>;
  destroy(): void;
}

export interface CreateGpuOptions {
  powerPreference?: GPUPowerPreference;
  /** Turn optional features off, e.g. to test the no-subgroups path on a device that has them. */
  disableFeatures?: Partial<Record<keyof GpuFeatures, boolean>>;
}

const LIMIT_KEYS: (keyof GpuLimits)[] = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'minStorageBufferOffsetAlignment',
  'minUniformBufferOffsetAlignment',
];

/** What Hearth's kernels need at the very least (the WebGPU defaults, mostly). */
const REQUIRED: Partial<Record<keyof GpuLimits, number>> = {
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxStorageBuffersPerShaderStage: 8,
  maxStorageBufferBindingSize: 128 * 1024 * 1024,
};

/**
 * Acquire an adapter and a device from `gpu` (navigator.gpu in a browser, Dawn's GPU in Node),
 * requesting the optional features we can use and the adapter's maximum limits.
 */
export async function createGpuContext(gpu: GPU | undefined, options: CreateGpuOptions = {}): Promise<GpuContext> {
  if (!gpu) {
    throw new HearthError('WEBGPU_UNAVAILABLE', 'WebGPU is not available in this environment.', {
      hint: 'Use a browser with WebGPU enabled (Chrome/Edge 113+, Safari 26+, Firefox 141+ on Windows), or in Node install the "webgpu" package.',
    });
  }
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  } catch (cause) {
    throw new HearthError('WEBGPU_UNAVAILABLE', 'Requesting a WebGPU adapter failed.', { cause, hint: 'Check that hardware acceleration is enabled and the GPU driver is supported.' });
  }
  if (!adapter) {
    throw new HearthError('WEBGPU_UNAVAILABLE', 'WebGPU is present but no GPU adapter was found.', {
      hint: 'Enable hardware acceleration in the browser settings, update the GPU driver, or (on Linux) start the browser with --enable-unsafe-webgpu.',
    });
  }
  for (const [key, min] of Object.entries(REQUIRED) as [keyof GpuLimits, number][]) {
    const have = adapter.limits[key] as number;
    if (have < min) {
      throw new HearthError('WEBGPU_LIMITS', `This GPU adapter's ${key} is ${have}, below the ${min} Hearth needs.`, {
        hint: 'Try another browser or device; integrated GPUs in compatibility mode can be too limited.',
        details: { key, have, min },
      });
    }
  }
  const off = options.disableFeatures ?? {};
  const want: GPUFeatureName[] = [];
  const has = (f: string) => adapter!.features.has(f);
  if (has('shader-f16') && !off.shaderF16) want.push('shader-f16');
  if (has('subgroups') && !off.subgroups) want.push('subgroups' as GPUFeatureName);
  if (has('timestamp-query') && !off.timestampQuery) want.push('timestamp-query');

  const requiredLimits: Record<string, number> = {};
  for (const key of LIMIT_KEYS) {
    if (key.startsWith('min')) continue; // alignment minimums: keep defaults
    requiredLimits[key] = adapter.limits[key] as number;
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures: want, requiredLimits, label: 'hearth' });
  } catch (cause) {
    throw new HearthError('WEBGPU_UNAVAILABLE', 'Creating a WebGPU device failed.', { cause, hint: 'Close other GPU-heavy tabs and try again.' });
  }
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const limits = {} as GpuLimits;
  for (const key of LIMIT_KEYS) limits[key] = device.limits[key] as number;
  let ownDestroy = false;
  const ctx: GpuContext = {
    device,
    adapterInfo: {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
    },
    features: {
      shaderF16: device.features.has('shader-f16'),
      subgroups: device.features.has('subgroups'),
      timestampQuery: device.features.has('timestamp-query'),
      packedDot4x8: !off.packedDot4x8 && (gpu.wgslLanguageFeatures?.has('packed_4x8_integer_dot_product') ?? false),
    },
    limits,
    pipelines: new PipelineCache(device),
    lost: null,
    uncaptured: { count: 0, last: null },
    whenLost: null as unknown as GpuContext['whenLost'],
    destroy() {
      ownDestroy = true;
      ctx.pipelines.clear();
      device.destroy();
    },
  };
  watchDevice(ctx, () => ownDestroy);
  return ctx;
}

/**
 * Watches `ctx.device`: its `lost` promise sets ctx.lost (unless Hearth destroyed the device
 * itself), and uncaptured errors are counted and kept in ctx.uncaptured (and logged once per
 * kind), so nothing the GPU reports is ignored.
 */
export function watchDevice(ctx: GpuContext, destroyedByUs: () => boolean = () => false): void {
  const device = ctx.device;
  ctx.whenLost = device.lost.then((l) => {
    const info = { reason: l.reason ?? 'unknown', message: l.message || 'no message from the driver' };
    if (!destroyedByUs()) ctx.lost = info;
    return info;
  });
  const logged = new Set<string>();
  const onError = (ev: Event) => {
    const err = (ev as GPUUncapturedErrorEvent).error;
    const type = err?.constructor?.name ?? 'GPUError';
    ctx.uncaptured.count++;
    ctx.uncaptured.last = { type, message: err?.message ?? '' };
    if (!logged.has(type)) {
      logged.add(type);
      console.warn(`hearth: uncaptured WebGPU ${type}: ${err?.message ?? ''}`);
    }
  };
  if (typeof device.addEventListener === 'function') device.addEventListener('uncapturederror', onError);
  else (device as { onuncapturederror: ((ev: Event) => void) | null }).onuncapturederror = onError;
}

/** The DEVICE_LOST error for `ctx`: what happened and what to do. */
export function deviceLostError(ctx: GpuContext, cause?: unknown): HearthError {
  const l = ctx.lost ?? { reason: 'unknown', message: 'the device stopped answering' };
  return new HearthError('DEVICE_LOST', `The GPU device was lost (${l.reason}: ${l.message}); the model's weights and cache on it are gone.`, {
    hint: 'Unload this engine and create a new one (the weights load again from the cache). If it keeps happening, try a smaller model, a shorter context length, or close other GPU-heavy tabs.',
    cause,
    details: { reason: l.reason, driverMessage: l.message, uncapturedErrors: ctx.uncaptured.count, lastUncapturedError: ctx.uncaptured.last?.message },
  });
}

/** Throws DEVICE_LOST if the device of `ctx` has been lost. */
export function assertAlive(ctx: GpuContext): void {
  if (ctx.lost) throw deviceLostError(ctx);
}

/**
 * What to throw for an error `e` raised by GPU work: DEVICE_LOST when the device was lost (a
 * lost device rejects pending mapAsync with a bare AbortError, before or after its `lost`
 * promise settles, so this waits briefly for it), else `e` itself.
 */
export async function gpuFailure(ctx: GpuContext, e: unknown): Promise<unknown> {
  if (e instanceof HearthError && e.code !== 'INTERNAL') return e;
  if (!ctx.lost) await Promise.race([ctx.whenLost, new Promise((r) => setTimeout(r, 200))]);
  return ctx.lost ? deviceLostError(ctx, e) : e;
}

/** True when the adapter is a CPU implementation (SwiftShader, lavapipe), where barriers are costly. */
export function isCpuAdapter(ctx: GpuContext): boolean {
  const s = `${ctx.adapterInfo.vendor} ${ctx.adapterInfo.architecture} ${ctx.adapterInfo.description}`.toLowerCase();
  return s.includes('swiftshader') || s.includes('llvmpipe') || s.includes('lavapipe');
}

/**
 * Threads of a kernel that reduces each row in one workgroup (the norms): 64 on GPUs; on CPU
 * drivers 4, one SIMD group, since there every barrier switches between each 4 of a workgroup's threads.
 */
export function rowReduceThreads(ctx: GpuContext): number {
  return isCpuAdapter(ctx) ? 4 : 64;
}
