import common from '../../shaders/common.wgsl?raw';
import source from '../../shaders/add_rows.wgsl?raw';
import { check } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { uploadUniform } from '../gpu/buffers.js';
import { bindBuffers, grid1d, type Dispatch } from '../gpu/dispatch.js';

const code = `${common}\n${source}`;

export interface AddRowsArgs {
  step: GPUBuffer;
  /** [maxTokens, n] f32, updated in place. */
  x: GPUBuffer;
  /** [rows, n] f32: row step.pos + t is added to x's row t. */
  table: GPUBuffer;
  n: number;
  rows: number;
  maxTokens: number;
}

/** x[t, :] += table[step.pos + t, :] (position embeddings). */
export function addRows(ctx: GpuContext, a: AddRowsArgs, label = 'add_rows'): Dispatch {
  check(a.x.size >= a.maxTokens * a.n * 4, `${label}: x must hold maxTokens x n floats.`);
  check(a.table.size >= a.rows * a.n * 4, `${label}: table must hold rows x n floats.`);
  const pipeline = ctx.pipelines.get(code, 'main', 'add_rows');
  const params = uploadUniform(ctx, new Uint32Array([a.n, a.rows]), `${label}.params`);
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, pipeline, label, { 0: a.step, 1: params, 2: a.x, 3: a.table }),
    owned: [params],
    grid: (s) => {
      check(s.tokens <= a.maxTokens, `${label}: ${s.tokens} tokens in one step, prepared for at most ${a.maxTokens}.`);
      check(s.pos + s.tokens <= a.rows, `${label}: positions up to ${s.pos + s.tokens} past the table's ${a.rows} rows.`);
      return grid1d(ctx, Math.ceil((s.tokens * a.n) / 64));
    },
  };
}
