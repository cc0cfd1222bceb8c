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
import { kvBlock, kvBytes, type KvFormat } from '../kernels/kv_append.js';
import { dequantizeQ8Blocks, quantizeQ8Blocks } from '../quant/kv-q8.js';
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
 * format (f32; f16 two to a u32; q8 int8 four to a u32 followed by every block's f32 scale,
 * kernels/kv_append.ts), each position written by kv_append or the Q|K|V GEMV's epilogue as it is
 * processed. Sliding-window layers keep every position too (their attention skips what falls
 * outside the window); no ring buffer yet. Positions go in and out as f32 whatever the format.
 */
export class KvCache {
  readonly k: GPUBuffer[] = [];
  readonly v: GPUBuffer[] = [];
  readonly bytes: number;
  private readonly kvHeads: number;
  private readonly headDim: number;
  /** Each buffer's regions: a row of headDim values of `bytes` bytes per (head, position), from `at`. */
  private readonly regions: { at: number; bytes: number }[];
  /** q8: values per scale. */
  private readonly block: number;

  constructor(private ctx: GpuContext, c: ModelConfig, readonly contextLength: number, readonly format: KvFormat = 'f32') {
    this.kvHeads = c.numKvHeads;
    this.headDim = c.headDim;
    const values = c.numKvHeads * contextLength * c.headDim;
    const size = kvBytes(format, values, c.headDim);
    this.block = format === 'q8' ? kvBlock(c.headDim) : 0;
    this.regions =
      format === 'q8'
        ? [
            { at: 0, bytes: c.headDim },
            { at: values, bytes: (c.headDim / this.block) * 4 },
          ]
        : [{ at: 0, bytes: size / (c.numKvHeads * contextLength) }];
    for (let l = 0; l < c.numLayers; l++) {
      this.k.push(createStorage(ctx, size, `k_cache.${l}`));
      this.v.push(createStorage(ctx, size, `v_cache.${l}`));
    }
    this.bytes = 2 * c.numLayers * size;
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
    // staging: per layer K then V, each its regions one after another, each [kvHeads, n] rows
    const perRegion = this.regions.map((r) => this.kvHeads * n * r.bytes);
    const perTensor = perRegion.reduce((a, b) => a + b, 0);
    const staging = this.ctx.device.createBuffer({ size: perTensor * 2 * this.layers, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'kv-export' });
    try {
      const enc = this.ctx.device.createCommandEncoder();
      for (let l = 0; l < this.layers; l++) {
        for (const [t, buf] of [this.k[l]!, this.v[l]!].entries()) {
          let to = (2 * l + t) * perTensor;
          for (const [i, r] of this.regions.entries()) {
            for (let h = 0; h < this.kvHeads; h++) enc.copyBufferToBuffer(buf, r.at + (h * this.contextLength + start) * r.bytes, staging, to + h * n * r.bytes, n * r.bytes);
            to += perRegion[i]!;
          }
        }
      }
      this.ctx.device.queue.submit([enc.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const bytes = staging.getMappedRange().slice(0);
      staging.unmap();
      const floats = this.floatsFor(n);
      const tensor = (i: number): Float32Array => {
        const at = i * perTensor;
        if (this.format === 'f32') return new Float32Array(bytes, at, floats).slice();
        if (this.format === 'f16') return Float32Array.from(new Uint16Array(bytes, at, floats), f16BitsToF32);
        const out = new Float32Array(floats);
        dequantizeQ8Blocks(new Int8Array(bytes, at, floats), new Float32Array(bytes, at + perRegion[0]!, floats / this.block), this.block, out);
        return out;
      };
      return this.k.map((_, l) => ({ k: tensor(2 * l), v: tensor(2 * l + 1) }));
    } finally {
      staging.destroy();
    }
  }

  /** Write positions [start, start + n) of every layer (queued; await the queue before relying on it). f16 caches round to nearest, q8 ones quantize as kv_append does. */
  write(start: number, n: number, layers: readonly KvLayers[]): void {
    const per = this.headDim * n;
    // a head's n rows of each region, as bytes
    const stored = (x: Float32Array): ArrayBufferView[] => {
      if (this.format === 'f32') return [x];
      if (this.format === 'f16') return [Uint16Array.from(x, f32ToF16Bits)];
      const q = new Int8Array(x.length);
      const scales = new Float32Array(x.length / this.block);
      quantizeQ8Blocks(x, this.block, q, scales);
      return [q, scales];
    };
    for (let l = 0; l < this.layers; l++) {
      const { k, v } = layers[l]!;
      for (let h = 0; h < this.kvHeads; h++) {
        for (const [buf, x] of [[this.k[l]!, k], [this.v[l]!, v]] as const) {
          stored(x.subarray(h * per, (h + 1) * per)).forEach((data, i) => {
            const r = this.regions[i]!;
            writeBuffer(this.ctx, buf, r.at + (h * this.contextLength + start) * r.bytes, data);
          });
        }
      }
    }
  }

  destroy(): void {
    for (const b of [...this.k, ...this.v]) b.destroy();
  }
}
