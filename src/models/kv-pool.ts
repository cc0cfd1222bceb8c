/**
 * The paged KV memory of batched decoding: one pool of fixed-size blocks (pages) per layer, from
 * which every sequence takes the blocks its positions need, through a block table of its own, so
 * short and long requests share the pool without fragmentation (a freed block serves any sequence).
 *
 * BlockAllocator is the bookkeeping (CPU only); KvPool adds the GPU buffers, laid out per layer as
 * [blocks, kvHeads, blockSize, headDim] f32, and the copy of a solo prefill's positions (KvCache,
 * contiguous) into a sequence's blocks. Nothing outside these two computes a block offset; the
 * batched kernels (kernels/paged.ts) read the block tables KvPool writes.
 */
import { HearthError, check } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { createStorage } from '../gpu/buffers.js';
import type { ModelConfig } from '../formats/config.js';
import type { KvCache } from './state.js';

/** Which blocks each sequence holds, and which are free. */
export class BlockAllocator {
  private free: number[];
  private tables = new Map<number, number[]>();
  private lengths = new Map<number, number>();

  constructor(
    readonly blocks: number,
    readonly blockSize: number,
    /** Blocks one sequence may hold at most (its block table's width). */
    readonly maxBlocksPerSequence: number,
  ) {
    for (const [name, v] of [['blocks', blocks], ['blockSize', blockSize], ['maxBlocksPerSequence', maxBlocksPerSequence]] as const) {
      if (!(Number.isInteger(v) && v >= 1)) throw new HearthError('INVALID_ARGUMENT', `KV pool: ${name} must be a positive integer, got ${v}.`, { hint: 'Give the pool at least one block of at least one position.' });
    }
    // lowest ids first, so a fresh pool hands out 0, 1, 2, ...
    this.free = Array.from({ length: blocks }, (_, i) => blocks - 1 - i);
  }

  get freeBlocks(): number {
    return this.free.length;
  }

  get sequences(): number {
    return this.tables.size;
  }

  /** Blocks needed for `positions` positions. */
  blocksFor(positions: number): number {
    return Math.ceil(positions / this.blockSize);
  }

  /** Positions one sequence may hold at most. */
  get maxPositions(): number {
    return this.maxBlocksPerSequence * this.blockSize;
  }

  /** Whether `seq` could grow to `positions` now (false: wait for another sequence to end). */
  canHold(seq: number, positions: number): boolean {
    const have = this.tables.get(seq)?.length ?? 0;
    return positions <= this.maxPositions && this.blocksFor(positions) - have <= this.free.length;
  }

  /**
   * Make room for positions [0, positions) of `seq` (a new sequence starts with none), taking the
   * blocks it lacks. All or nothing: KV_POOL_FULL when the free blocks are too few (nothing taken),
   * CONTEXT_OVERFLOW past the block table's width.
   */
  reserve(seq: number, positions: number): readonly number[] {
    check(Number.isInteger(seq) && seq >= 0, `KV pool: sequence ids are non-negative integers, got ${seq}.`);
    check(Number.isInteger(positions) && positions >= 0, `KV pool: a length is a non-negative integer, got ${positions}.`);
    if (positions > this.maxPositions) {
      throw new HearthError('CONTEXT_OVERFLOW', `KV pool: a sequence of ${positions} positions does not fit its block table (${this.maxBlocksPerSequence} blocks of ${this.blockSize}).`, {
        hint: 'Shorten the prompt or max_tokens, or build the pool with more blocks per sequence.',
        details: { positions, maxPositions: this.maxPositions },
      });
    }
    const table = this.tables.get(seq) ?? [];
    const need = this.blocksFor(positions) - table.length;
    if (need > this.free.length) {
      throw new HearthError('KV_POOL_FULL', `KV pool: sequence ${seq} needs ${need} more blocks of ${this.blockSize} positions, ${this.free.length} of ${this.blocks} are free.`, {
        hint: 'Wait for a running sequence to end (its blocks return to the pool), or build the pool with more blocks.',
        details: { need, free: this.free.length, blocks: this.blocks },
      });
    }
    for (let i = 0; i < need; i++) table.push(this.free.pop()!);
    this.tables.set(seq, table);
    this.lengths.set(seq, Math.max(positions, this.lengths.get(seq) ?? 0));
    return table;
  }

  /** The blocks of `seq`, in position order. */
  table(seq: number): readonly number[] {
    const t = this.tables.get(seq);
    if (!t) throw new HearthError('INVALID_ARGUMENT', `KV pool: no sequence ${seq}.`, { hint: 'Reserve positions for a sequence before using it.' });
    return t;
  }

  /** Positions reserved for `seq`. */
  length(seq: number): number {
    return this.lengths.get(seq) ?? 0;
  }

  /** Return every block of `seq` to the pool (a sequence not held: nothing happens). */
  release(seq: number): void {
    const t = this.tables.get(seq);
    if (!t) return;
    for (let i = t.length - 1; i >= 0; i--) this.free.push(t[i]!);
    this.tables.delete(seq);
    this.lengths.delete(seq);
  }
}

export interface KvPoolOptions {
  /** Positions per block (default 16). */
  blockSize?: number;
  /** Blocks in the pool, shared by every sequence. */
  blocks: number;
  /** Positions one sequence may reach (its block table holds ceil(this / blockSize) blocks). */
  maxPositions: number;
}

/** The GPU side of the pool: per layer a K and a V buffer of [blocks, kvHeads, blockSize, headDim] f32. */
export class KvPool {
  readonly k: GPUBuffer[] = [];
  readonly v: GPUBuffer[] = [];
  readonly alloc: BlockAllocator;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly bytes: number;

  constructor(
    private ctx: GpuContext,
    c: ModelConfig,
    o: KvPoolOptions,
  ) {
    const blockSize = o.blockSize ?? 16;
    this.alloc = new BlockAllocator(o.blocks, blockSize, Math.ceil(o.maxPositions / blockSize));
    this.kvHeads = c.numKvHeads;
    this.headDim = c.headDim;
    const bytes = o.blocks * this.blockFloats * 4;
    for (let l = 0; l < c.numLayers; l++) {
      this.k.push(createStorage(ctx, bytes, `kv_pool.k.${l}`));
      this.v.push(createStorage(ctx, bytes, `kv_pool.v.${l}`));
    }
    this.bytes = 2 * c.numLayers * bytes;
  }

  get blockSize(): number {
    return this.alloc.blockSize;
  }

  /** Floats of one block of one layer's K (or V). */
  get blockFloats(): number {
    return this.kvHeads * this.blockSize * this.headDim;
  }

  /** Float offset of (block, kv head, slot) in a layer's buffer. */
  offset(block: number, head: number, slot: number): number {
    return ((block * this.kvHeads + head) * this.blockSize + slot) * this.headDim;
  }

  /**
   * Record copies of positions [0, n) of every layer of a contiguous f32 cache (a solo prefill's)
   * into the blocks of `seq`, which must hold them (reserve first).
   */
  copyFromCache(enc: GPUCommandEncoder, cache: KvCache, seq: number, n: number): void {
    check(cache.format === 'f32', 'KV pool: prefill into the pool needs an f32 KV cache.');
    check(cache.layers === this.k.length, 'KV pool: the cache has another number of layers.');
    const table = this.alloc.table(seq);
    check(table.length * this.blockSize >= n, `KV pool: sequence ${seq} holds ${table.length * this.blockSize} positions, ${n} to copy.`);
    const d = this.headDim * 4;
    for (let l = 0; l < this.k.length; l++) {
      for (const [src, dst] of [[cache.k[l]!, this.k[l]!], [cache.v[l]!, this.v[l]!]] as const) {
        for (let b = 0; b * this.blockSize < n; b++) {
          const start = b * this.blockSize;
          const len = Math.min(this.blockSize, n - start);
          for (let h = 0; h < this.kvHeads; h++) enc.copyBufferToBuffer(src, (h * cache.contextLength + start) * d, dst, this.offset(table[b]!, h, 0) * 4, len * d);
        }
      }
    }
  }

  destroy(): void {
    for (const b of [...this.k, ...this.v]) b.destroy();
  }
}
