import { HearthError } from '../errors.js';

/**
 * Shader modules and compute pipelines, built once and shared. Keyed by the full WGSL
 * source, the entry point and the override constants, so two kernels that ask for the
 * same variant share one pipeline.
 */
export class PipelineCache {
  private modules = new Map<string, GPUShaderModule>();
  private pipelines = new Map<string, GPUComputePipeline>();

  constructor(private device: GPUDevice) {}

  module(code: string, label: string): GPUShaderModule {
    let m = this.modules.get(code);
    if (!m) {
      m = this.device.createShaderModule({ code, label });
      this.modules.set(code, m);
    }
    return m;
  }

  get(code: string, entryPoint: string, label: string, constants: Record<string, number> = {}): GPUComputePipeline {
    const key = `${entryPoint}\u0000${JSON.stringify(constants)}\u0000${code}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = this.device.createComputePipeline({
        label,
        layout: 'auto',
        compute: { module: this.module(code, label), entryPoint, constants },
      });
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** Compile-check a module and throw SHADER_COMPILE with the compiler's messages on error. */
  async validate(code: string, label: string): Promise<void> {
    const info = await this.module(code, label).getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) {
      throw new HearthError('SHADER_COMPILE', `WGSL for ${label} failed to compile: ${errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join('; ')}`, {
        hint: 'This is a bug in Hearth or the browser; please report it with your adapter info.',
      });
    }
  }

  get size(): number {
    return this.pipelines.size;
  }

  clear(): void {
    this.modules.clear();
    this.pipelines.clear();
  }
}
