import common from '../../shaders/common.wgsl?raw';
import source from '../../shaders/argmax_rows.wgsl?raw';
import { check } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { uploadUniform } from '../gpu/buffers.js';
import { bindBuffers, type Dispatch } from '../gpu/dispatch.js';

const code = `${common}\n${source}`;

export interface ArgmaxRowsArgs {
  step: GPUBuffer;
  /** [rows, vocab] f32 */
  logits: GPUBuffer;
  /** [rows, 2] words: each row's argmax (u32, the lower index on ties) and its log-probability (f32). */
  out: GPUBuffer;
  vocab: number;
  maxRows: number;
}

/** Greedy sampling of step.tokens logits rows in one launch (batched decoding). */
export function argmaxRows(ctx: GpuContext, a: ArgmaxRowsArgs, label = 'argmax_rows'): Dispatch {
  check(Number.isInteger(a.vocab) && a.vocab >= 1, `${label}: vocabulary must be a positive integer, got ${a.vocab}.`);
  check(a.logits.size >= a.maxRows * a.vocab * 4 && a.out.size >= a.maxRows * 8, `${label}: logits must hold maxRows x vocab floats and out 2 x maxRows words.`);
  const pipeline = ctx.pipelines.get(code, 'argmax_rows', 'argmax_rows');
  const params = uploadUniform(ctx, new Uint32Array([a.vocab, 0, 0, 0]), `${label}.params`);
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, pipeline, label, { 0: a.step, 1: params, 2: a.logits, 3: a.out }),
    owned: [params],
    grid: (s) => {
      check(s.tokens <= a.maxRows, `${label}: ${s.tokens} rows in one step, prepared for at most ${a.maxRows}.`);
      return [s.tokens, 1, 1];
    },
  };
}
