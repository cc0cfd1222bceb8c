import { createStorage, readF32, uploadStorage } from '../gpu/buffers.js';
import type { GpuContext } from '../gpu/device.js';
import { attention, attentionScratchBytes } from '../kernels/attention.js';
import { attentionRef } from '../reference/attention.js';
import { ErrorTally, TOLERANCE } from './check.js';
import { randomF32, sampleIndices } from './data.js';
import { BufferSet, type PreparedCase } from './prepared.js';
import type { LabCase } from './types.js';

type AttentionCase = Extract<LabCase, { family: 'attention-prefill' | 'attention-decode' }>;

/**
 * Tokens and KV-head groups checked, each (token, group) costing group x kvLen x headDim x 2 on the
 * CPU: all of them when that is cheap, else a few tokens (the last, with the most keys, included).
 */
const FULL_CHECK_MACS = 1 << 22;
const SAMPLE_TOKENS = 4;
const SAMPLE_GROUPS = 4;

/**
 * Causal GQA attention over a KV cache holding exactly kvLen positions: prefill of `tokens`
 * queries from `pos` (flash attention), or one decode query at kvLen - 1 (split-K).
 */
export function prepareAttention(ctx: GpuContext, c: AttentionCase, step: GPUBuffer): PreparedCase {
  const { nHeads, nKvHeads, headDim: d } = c;
  const tokens = c.family === 'attention-prefill' ? c.tokens : 1;
  const pos = c.family === 'attention-prefill' ? c.pos : c.kvLen - 1;
  const kvLen = pos + tokens;
  const maxCtx = kvLen;
  const seed = nHeads * 131 + d * 17 + kvLen;
  const q = randomF32(tokens * nHeads * d, seed);
  const k = randomF32(nKvHeads * maxCtx * d, seed + 1);
  const v = randomF32(nKvHeads * maxCtx * d, seed + 2);
  const bufs = new BufferSet();
  const gpu = {
    q: bufs.add(uploadStorage(ctx, q, 'lab.q')),
    kCache: bufs.add(uploadStorage(ctx, k, 'lab.k')),
    vCache: bufs.add(uploadStorage(ctx, v, 'lab.v')),
    out: bufs.add(createStorage(ctx, q.byteLength, 'lab.attn_out')),
  };
  const shape = { nHeads, nKvHeads, headDim: d, maxCtx };
  const scratch = bufs.add(createStorage(ctx, attentionScratchBytes(ctx, shape), 'lab.attn_scratch'));
  const dispatches = attention(ctx, { step, ...gpu, ...shape, scratch, maxTokens: tokens }, `lab.${c.family}`);
  const group = nHeads / nKvHeads;
  // scores q.k and the weighted sum of v: 2 flops per multiply-add, each over every visible key
  let visible = 0;
  for (let t = 0; t < tokens; t++) visible += pos + t + 1;

  return {
    dispatches,
    step: { tokens, pos, kvLen },
    bytes: (2 * nKvHeads * kvLen * d + 2 * tokens * nHeads * d) * 4,
    flops: 4 * nHeads * d * visible,
    async verify() {
      const got = await readF32(ctx, gpu.out, tokens * nHeads * d);
      const tally = new ErrorTally(TOLERANCE[c.family], got.length);
      const all = nHeads * d * visible <= FULL_CHECK_MACS;
      for (const t of sampleIndices(tokens, all ? tokens : SAMPLE_TOKENS, seed + 3)) {
        for (const g of sampleIndices(nKvHeads, all ? nKvHeads : SAMPLE_GROUPS, seed + 4)) {
          // one token's heads of kv group g against that group's cache: a 1-kv-head problem
          const head0 = (t * nHeads + g * group) * d;
          const want = attentionRef({
            nHeads: group,
            nKvHeads: 1,
            headDim: d,
            maxCtx,
            q: q.subarray(head0, head0 + group * d),
            kCache: k.subarray(g * maxCtx * d, (g + 1) * maxCtx * d),
            vCache: v.subarray(g * maxCtx * d, (g + 1) * maxCtx * d),
            tokens: 1,
            pos: pos + t,
          });
          tally.add(got.subarray(head0, head0 + group * d), want);
        }
      }
      return tally.result();
    },
    destroy: () => bufs.destroy(),
  };
}
