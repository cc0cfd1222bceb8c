/**
 * A forward pass's state, kept apart from the weights (as llama2.c keeps RunState apart from
 * TransformerWeights): the working buffers of one submit (Activations) and the KV cache (KvCache),
 * which owns its layout and the copying of position ranges in and out, so nothing else computes
 * a KV offset.
 */
import type { GpuContext } from '../gpu/device.js';
import { createStorage, writeBuffer } from '../gpu/buffers.js';
import type { ModelConfig } from '../formats/config.js';
import type { ActQuant } from '../quant/formats.js';
import { KV_BYTES, type KvFormat } from '../kernels/kv_append.js';
import { f16BitsToF32, f32ToF16Bits } from '../util/f16.js';

/**
 * Where q, k and v live in the `qkv` activation buffer: three [maxTokens, width] blocks, each
 * starting on a 64-float (256-byte) boundary, the most any adapter asks of a binding offset.
 */
export function qkvSections(maxTokens: number, qDim: number, kvDim: number): { sections: { width: number; offset: number }[]; floats: number } {
  const align = (f: number) => Math.ceil(f / 64) * 64;
  const kAt = align(maxTokens * qDim);
  const vAt = align(kAt + maxTokens * kvDim);
  return {
    sections: [
      { width: qDim, offset: 0 },
      { width: kvDim, offset: kAt },
      { width: kvDim, offset: vAt },
    ],
    floats: vAt + maxTokens * kvDim,
  };
}

export interface ActivationNeeds {
  /** Some layer keeps gate and up apart (their formats differ): a separate `up` buffer. */
  separateUp: boolean;
  /** The activation quantizations in use (one [maxTokens, widest input] buffer each). */
  quantized: ActQuant[];
  /** Rows of logits (default 1, the last token's; batched decoding: one per row). */
  logitsRows?: number;
}

/** The working buffers of one submit of up to `maxTokens` tokens: f32 rows, [tokens, width]. */
export class Activations {
  readonly ids: GPUBuffer;
  /** The residual stream. */
  readonly x: GPUBuffer;
  /** A norm's output: the next projection's input. */
  readonly xn: GPUBuffer;
  /** q, k and v, as qkvSections says. */
  readonly qkv: GPUBuffer;
  readonly qn: GPUBuffer | null;
  readonly kn: GPUBuffer | null;
  readonly att: GPUBuffer;
  /** Attention's output projection, before its post-norm (where the block has one; else it adds into x). */
  readonly o: GPUBuffer;
  /** gate|up rows of the fused matmul; gate alone when a layer keeps them apart. */
  readonly gate: GPUBuffer;
  readonly up: GPUBuffer | null;
  readonly act: GPUBuffer;
  /** The MLP's output, before its post-norm (where the block has one; else it adds into x). */
  readonly mlp: GPUBuffer;
  /** The last row's logits, which the sampler reads. */
  readonly logits: GPUBuffer;
  /** Matmul inputs quantized as llama.cpp would, per kind in use. */
  readonly quantized = new Map<ActQuant, GPUBuffer>();

  constructor(ctx: GpuContext, c: ModelConfig, readonly maxTokens: number, needs: ActivationNeeds) {
    const T = maxTokens;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const f32 = (n: number, label: string) => createStorage(ctx, n * 4, label);
    this.ids = createStorage(ctx, T * 4, 'ids');
    this.x = f32(T * c.hiddenSize, 'x');
    this.xn = f32(T * c.hiddenSize, 'xn');
    this.qkv = f32(qkvSections(T, qDim, kvDim).floats, 'qkv');
    this.qn = c.qkNorm ? f32(T * qDim, 'qn') : null;
    this.kn = c.qkNorm ? f32(T * kvDim, 'kn') : null;
    this.att = f32(T * qDim, 'att');
    this.o = f32(T * c.hiddenSize, 'o');
    this.gate = f32(T * 2 * c.intermediateSize, 'gate');
    this.up = needs.separateUp ? f32(T * c.intermediateSize, 'up') : null;
    this.act = f32(T * c.intermediateSize, 'act');
    this.mlp = f32(T * c.hiddenSize, 'mlp');
    this.logits = f32((needs.logitsRows ?? 1) * c.vocabSize, 'logits');
    const widest = Math.max(c.hiddenSize, qDim, c.intermediateSize);
    for (const kind of needs.quantized) this.quantized.set(kind, f32(T * widest, `x.${kind}`));
  }

  private all(): GPUBuffer[] {
    return [this.ids, this.x, this.xn, this.qkv, this.qn, this.kn, this.att, this.o, this.gate, this.up, this.act, this.mlp, this.logits, ...this.quantized.values()].filter((b): b is GPUBuffer => b !== null);
  }

  get bytes(): number {
    return this.all().reduce((s, b) => s + b.size, 0);
  }

  destroy(): void {
    for (const b of this.all()) b.destroy();
  }
}

/** K and V of some positions, per layer, as [kvHeads, positions, headDim] f32. */
export interface KvLayers {
  k: Float32Array;
  v: Float32Array;
}

/**
 * The KV cache: per layer a K and a V buffer of [kvHeads, contextLength, headDim] values in its
 * format (f32, or f16 two to a u32), each position written by kv_append or the Q|K|V GEMV's epilogue
 * as it is processed. Sliding-window layers keep every position too (their attention skips what
 * falls outside the window); no ring buffer yet. Positions go in and out as f32 whatever the format.
 */
export class KvCache {
  readonly k: GPUBuffer[] = [];
  readonly v: GPUBuffer[] = [];
  readonly bytes: number;
  private readonly kvHeads: number;
  private readonly headDim: number;
  /** Bytes per value. */
  private readonly vb: number;

  constructor(private ctx: GpuContext, c: ModelConfig, readonly contextLength: number, readonly format: KvFormat = 'f32') {
    this.kvHeads = c.numKvHeads;
    this.headDim = c.headDim;
    this.vb = KV_BYTES[format];
    const values = c.numKvHeads * contextLength * c.headDim;
    for (let l = 0; l < c.numLayers; l++) {
      this.k.push(createStorage(ctx, values * this.vb, `k_cache.${l}`));
      this.v.push(createStorage(ctx, values * this.vb, `v_cache.${l}`));
    }
    this.bytes = 2 * c.numLayers * values * this.vb;
  }

  get layers(): number {
    return this.k.length;
  }

  /** Floats one layer's K (or V) takes for `n` positions. */
  floatsFor(n: number): number {
    return this.kvHeads * n * this.headDim;
  }

  /** Copy positions [start, end) of every layer back to the CPU. */
  async read(start: number, end: number): Promise<KvLayers[]> {
    const n = end - start;
    if (n === 0) return this.k.map(() => ({ k: new Float32Array(0), v: new Float32Array(0) }));
    const rowBytes = this.headDim * this.vb;
    const perTensor = this.kvHeads * n * rowBytes;
    const staging = this.ctx.device.createBuffer({ size: perTensor * 2 * this.layers, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'kv-export' });
    try {
      const enc = this.ctx.device.createCommandEncoder();
      for (let l = 0; l < this.layers; l++) {
        for (const [t, buf] of [this.k[l]!, this.v[l]!].entries()) {
          for (let h = 0; h < this.kvHeads; h++) {
            enc.copyBufferToBuffer(buf, (h * this.contextLength + start) * rowBytes, staging, (2 * l + t) * perTensor + h * n * rowBytes, n * rowBytes);
          }
        }
      }
      this.ctx.device.queue.submit([enc.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const bytes = staging.getMappedRange().slice(0);
      staging.unmap();
      const all = this.format === 'f16' ? Float32Array.from(new Uint16Array(bytes), f16BitsToF32) : new Float32Array(bytes);
      const floats = perTensor / this.vb;
      return this.k.map((_, l) => ({ k: all.slice(2 * l * floats, (2 * l + 1) * floats), v: all.slice((2 * l + 1) * floats, (2 * l + 2) * floats) }));
    } finally {
      staging.destroy();
    }
  }

  /** Write positions [start, start + n) of every layer (queued; await the queue before relying on it). f16 caches round to nearest. */
  write(start: number, n: number, layers: readonly KvLayers[]): void {
    const per = this.headDim * n;
    const stored = (x: Float32Array): ArrayBufferView => (this.format === 'f16' ? Uint16Array.from(x, f32ToF16Bits) : x);
    for (let l = 0; l < this.layers; l++) {
      const { k, v } = layers[l]!;
      for (let h = 0; h < this.kvHeads; h++) {
        const dst = (h * this.contextLength + start) * this.headDim * this.vb;
        writeBuffer(this.ctx, this.k[l]!, dst, stored(k.subarray(h * per, (h + 1) * per)));
        writeBuffer(this.ctx, this.v[l]!, dst, stored(v.subarray(h * per, (h + 1) * per)));
      }
    }
  }

  destroy(): void {
    for (const b of [...this.k, ...this.v]) b.destroy();
  }
}
