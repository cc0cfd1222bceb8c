import common from '../../shaders/common.wgsl?raw';
import activations from '../../shaders/activations.wgsl?raw';
import source from '../../shaders/silu_mul.wgsl?raw';
import { check } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { uploadUniform } from '../gpu/buffers.js';
import { bindBuffers, grid1d, type Dispatch } from '../gpu/dispatch.js';

const code = `${common}\n${activations}\n${source}`;

/** The activation of a gated MLP: SiLU (Llama, Qwen, ...) or GELU with the tanh approximation (Gemma). */
export type GatedActivation = 'silu' | 'gelu_tanh';

const ENTRY: Record<GatedActivation, string> = { silu: 'main', gelu_tanh: 'gelu_tanh' };

export interface SiluMulArgs {
  step: GPUBuffer;
  /** [maxTokens, n] f32 each; or, with `fused`, one [maxTokens, 2n] buffer of gate|up rows passed as both. */
  gate: GPUBuffer;
  up: GPUBuffer;
  out: GPUBuffer;
  n: number;
  maxTokens: number;
  /** gate and up come from one matmul over the concatenated weights: each row is gate then up. */
  fused?: boolean;
  /**
   * act in out = act(gate) * up: 'silu' (default), silu(x) = x / (1 + e^-x); or 'gelu_tanh',
   * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (PyTorch's gelu(approximate='tanh'), Gemma's
   * gelu_pytorch_tanh).
   */
  activation?: GatedActivation;
}

/** The same arguments under the general name. */
export type GatedActArgs = SiluMulArgs;

/**
 * out[m, i] = act(gate[m, i]) * up[m, i] for m < step.tokens: the gated MLP's product, act being
 * SiLU unless `activation` says otherwise.
 */
export function siluMul(ctx: GpuContext, a: SiluMulArgs, label = 'silu_mul'): Dispatch {
  const bytes = a.maxTokens * a.n * 4;
  const inBytes = a.fused ? 2 * bytes : bytes;
  check(a.gate.size >= inBytes && a.up.size >= inBytes && a.out.size >= bytes, `${label}: gate and up must hold maxTokens x ${a.fused ? '2n' : 'n'} floats, out maxTokens x n.`);
  const activation = a.activation ?? 'silu';
  check(Object.hasOwn(ENTRY, activation), `${label}: activation must be 'silu' or 'gelu_tanh', got ${String(activation)}.`);
  const pipeline = activation === 'silu' ? ctx.pipelines.get(code, 'main', 'silu_mul') : ctx.pipelines.get(code, ENTRY[activation], `gated_${activation}`);
  const params = uploadUniform(ctx, new Uint32Array(a.fused ? [a.n, 2 * a.n, a.n] : [a.n, a.n, 0]), `${label}.params`);
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, pipeline, label, { 0: a.step, 1: params, 2: a.gate, 3: a.up, 4: a.out }),
    owned: [params],
    grid: (s) => {
      check(s.tokens <= a.maxTokens, `${label}: ${s.tokens} tokens in one step, prepared for at most ${a.maxTokens}.`);
      return grid1d(ctx, Math.ceil((s.tokens * a.n) / 64));
    },
  };
}

/** siluMul under the name of what it computes once `activation` is set: act(gate) * up. */
export const gatedAct = siluMul;
