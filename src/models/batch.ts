/**
 * A batched decode step's forward pass: the same recipe as Forward (models/llama.ts, gemma3.ts),
 * recorded over rows that are each the next token of their own sequence. The matmuls run over
 * M = rows (the GEMV at one row, the GEMM above: the weights are read once per step, not once per
 * sequence); RoPE, the KV append and attention go per row through the paged pool (KvPool, its
 * block tables); the LM head and a greedy argmax cover every row.
 */
import type { GpuContext } from '../gpu/device.js';
import { createStorage, writeBuffer } from '../gpu/buffers.js';
import { destroyDispatches, type Dispatch } from '../gpu/dispatch.js';
import type { ModelConfig } from '../formats/config.js';
import type { ActQuant } from '../quant/formats.js';
import { check } from '../errors.js';
import { tableBytes, tableStride, type PagedShape } from '../kernels/paged.js';
import { argmaxRows } from '../kernels/argmax_rows.js';
import { recipeFor, type ActivationMode } from './forward.js';
import { Activations } from './state.js';
import { Steps } from './steps.js';
import { allMatrices, type ModelWeights } from './weights.js';
import type { KvPool } from './kv-pool.js';

/** One row of a batched step: the sequence whose blocks it uses, its input token and position. */
export interface BatchRow {
  seq: number;
  token: number;
  pos: number;
}

export class BatchForward {
  readonly act: Activations;
  /** The forward pass over the rows, then the argmax of each row's logits into `next`. */
  readonly dispatches: Dispatch[];
  /** [maxRows, 2] words: each row's greedy next token (u32) and its log-probability (f32). */
  readonly next: GPUBuffer;
  readonly table: GPUBuffer;
  readonly shape: PagedShape;
  private steps: Steps;
  private tableData: Uint32Array;

  constructor(
    private ctx: GpuContext,
    readonly config: ModelConfig,
    weights: ModelWeights,
    readonly pool: KvPool,
    readonly maxRows: number,
    stepBuffer: GPUBuffer,
    activations: ActivationMode = 'f32',
  ) {
    check(Number.isInteger(maxRows) && maxRows >= 1, `A batch takes at least one row, got ${maxRows}.`);
    const c = config;
    const q8 = activations === 'q8';
    const kinds = new Set<ActQuant>();
    if (q8) for (const m of allMatrices(weights)) if (m.actQuant) kinds.add(m.actQuant);
    this.act = new Activations(ctx, c, maxRows, { separateUp: weights.layers.some((L) => L.gateUp.parts.length > 1), quantized: [...kinds], logitsRows: maxRows });
    this.shape = { nHeads: c.numHeads, nKvHeads: c.numKvHeads, headDim: c.headDim, blockSize: pool.blockSize, maxBlocks: pool.alloc.maxBlocksPerSequence, maxRows };
    this.table = createStorage(ctx, tableBytes(this.shape), 'batch.block_table');
    this.tableData = new Uint32Array(maxRows * tableStride(this.shape));
    this.next = createStorage(ctx, maxRows * 8, 'batch.next');
    this.steps = new Steps(ctx, c, this.act, null, { step: stepBuffer, quantizeInputs: q8, intDot: activations === 'int8', fuse: false, paged: { pool, table: this.table, shape: this.shape } });
    recipeFor(c.architecture)(this.steps, weights, c);
    this.dispatches = [...this.steps.dispatches, argmaxRows(ctx, { step: stepBuffer, logits: this.act.logits, out: this.next, vocab: c.vocabSize, maxRows }, 'batch.argmax')];
  }

  /** Write the rows' tokens, positions and block tables (each sequence must hold pos + 1 positions). */
  setRows(rows: readonly BatchRow[]): void {
    check(rows.length >= 1 && rows.length <= this.maxRows, `A batched step takes 1 to ${this.maxRows} rows, got ${rows.length}.`);
    const stride = tableStride(this.shape);
    const ids = new Uint32Array(rows.length);
    rows.forEach((r, i) => {
      const blocks = this.pool.alloc.table(r.seq);
      check(blocks.length * this.pool.blockSize > r.pos, `Row ${i}: sequence ${r.seq} holds ${blocks.length * this.pool.blockSize} positions, its token is at ${r.pos}.`);
      ids[i] = r.token;
      this.tableData[i * stride] = r.pos;
      this.tableData.set(blocks, i * stride + 1);
    });
    writeBuffer(this.ctx, this.act.ids, 0, ids);
    writeBuffer(this.ctx, this.table, 0, this.tableData.subarray(0, rows.length * stride));
  }

  get bytes(): number {
    return this.act.bytes + this.table.size + this.next.size + this.steps.attnScratch.size;
  }

  destroy(): void {
    destroyDispatches(this.dispatches);
    this.act.destroy();
    this.steps.attnScratch.destroy();
    this.table.destroy();
    this.next.destroy();
  }
}
