import common from '../../shaders/common.wgsl?raw';
import source from '../../shaders/embed.wgsl?raw';
import { check } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { uploadUniform } from '../gpu/buffers.js';
import { bindBuffers, type Dispatch } from '../gpu/dispatch.js';
import type { GpuWeight } from '../gpu/weights.js';
import { FORMATS } from '../quant/formats.js';

export interface EmbedArgs {
  step: GPUBuffer;
  /** [maxTokens] u32 token ids. */
  ids: GPUBuffer;
  /** [vocab, cols] in any weight format, possibly split into parts. */
  table: GpuWeight;
  /** [maxTokens, cols] f32. */
  out: GPUBuffer;
  maxTokens: number;
  /** Multiplies every output (Gemma scales embeddings by sqrt(hidden)). */
  scale?: number;
}

/**
 * out[m, :] = table[ids[m], :] * scale for m < step.tokens; ids past the table give zeros.
 * One dispatch per part of the table, each writing the tokens whose ids it holds.
 */
export function embed(ctx: GpuContext, a: EmbedArgs, label = 'embed'): Dispatch[] {
  const { table } = a;
  check(Number.isInteger(a.maxTokens) && a.maxTokens > 0 && a.maxTokens <= 65535, `${label}: maxTokens must be 1..65535, got ${a.maxTokens}.`);
  check(a.ids.size >= a.maxTokens * 4, `${label}: ids must hold maxTokens u32.`);
  check(a.out.size >= a.maxTokens * table.cols * 4, `${label}: out must hold maxTokens x cols floats.`);
  const f = FORMATS[table.format];
  const pipeline = ctx.pipelines.get(`${common}\n${source}\n${f.wgsl}`, 'embed', `embed_${table.format}`);
  const colGroups = Math.ceil(table.cols / 64);
  return table.parts.map((part, i) => {
    const last = i === table.parts.length - 1;
    const params = new DataView(new ArrayBuffer(28));
    params.setUint32(0, table.cols, true);
    params.setUint32(4, table.strideWords / f.wgslWords, true);
    params.setUint32(8, Math.floor(table.cols / 32), true);
    params.setUint32(12, part.rowStart, true);
    params.setUint32(16, part.rowStart + part.rows, true);
    params.setUint32(20, last ? 1 : 0, true);
    params.setFloat32(24, a.scale ?? 1, true);
    const partLabel = table.parts.length > 1 ? `${label}[${i}]` : label;
    const pbuf = uploadUniform(ctx, params, `${partLabel}.params`);
    const buffers: Record<number, GPUBuffer> = { 0: a.step, 1: pbuf, 2: a.ids, 3: part.data, 5: a.out };
    if (part.scales) buffers[4] = part.scales;
    return {
      label: partLabel,
      pipeline,
      bindGroup: bindBuffers(ctx, pipeline, partLabel, buffers),
      owned: [pbuf],
      grid: (s) => {
        check(s.tokens <= a.maxTokens, `${label}: ${s.tokens} tokens in one step, prepared for at most ${a.maxTokens}.`);
        return [colGroups, s.tokens, 1];
      },
    };
  });
}
