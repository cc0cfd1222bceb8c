/**
 * The real quantized files load in their own formats (src/quant): SmolLM2-135M-Instruct Q4_1 and
 * Gemma 3 270M Q4_K_M (Q8_0, Q5_0, Q4_K, Q6_K) take at most 1.05x their tensor bytes on the GPU,
 * where widening their Q4_1/Q5_0/k-quant matrices to q8_0 took more, and give the same greedy
 * tokens as that widened load (dtype 'q8_0': every matrix q8_0, what the loader did before the
 * native kernels).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { openModel } from '../../src/formats/model-files.js';
import { resolveModelSource } from '../../src/hub/resolve.js';
import { createEngine, type NodeEngine } from '../../src/node.js';
import { GEMMA3, SMOLLM2, realModel } from '../helpers/real-models.js';

const run = promisify(execFile);
const BIN = new URL('../../bin/hearth.js', import.meta.url).pathname;

/** The bytes of every tensor in the file (what the weights take on disk, metadata and vocabulary aside). */
async function tensorBytes(path: string): Promise<number> {
  const files = await openModel(await resolveModelSource(path));
  return [...files.tensors.values()].reduce((s, t) => s + t.byteLength, 0);
}

const engines: NodeEngine[] = [];
afterAll(async () => {
  for (const e of engines) await e.unload();
});

describe('real quantized files on the GPU as stored', () => {
  it('SmolLM2-135M-Instruct Q4_1: hearth generate --json reports gpu_bytes <= 1.05x the file\'s tensors, and the widened load\'s greedy ids', async () => {
    const file = realModel(SMOLLM2);
    const gen = async (extra: string[]) => JSON.parse((await run('node', [BIN, 'generate', '--model', file, '--prompt', 'The capital of France is', '--max-tokens', '6', '--temperature', '0', '--json', ...extra], { timeout: 240_000 })).stdout);
    const native = await gen([]);
    const widened = await gen(['--dtype', 'q8_0']);
    const bytes = await tensorBytes(file);
    expect(native.gpu_bytes / bytes).toBeLessThanOrEqual(1.05);
    expect(widened.gpu_bytes / bytes).toBeGreaterThan(1.3);
    expect(native.ids).toEqual(widened.ids);
  }, 300_000);

  it('Gemma 3 270M Q4_K_M: q8_0, q5_0, q4_k and q6_k matrices, GPU bytes <= 1.05x the file\'s tensors, the widened load\'s greedy ids', async () => {
    const file = realModel(GEMMA3);
    const native = await createEngine({ model: file, contextLength: 64 });
    engines.push(native);
    expect(Object.keys(native.info.weightFormats).sort()).toEqual(['q4_k', 'q5_0', 'q6_k', 'q8_0']);
    const bytes = await tensorBytes(file);
    expect(native.info.weightBytes / bytes).toBeLessThanOrEqual(1.05);
    const prompt = native.tokenizer.encode('Once upon a time, in a small village,', { addSpecialTokens: true });
    const request = { prompt, max_tokens: 6, temperature: 0 };
    const got = await native.completions.create(request);
    await native.unload();
    const widened = await createEngine({ model: file, contextLength: 64, dtype: 'q8_0' });
    engines.push(widened);
    // (the Q8_0 embedding, 180 of the file's 253 MB, was never widened)
    expect(widened.info.weightBytes / bytes).toBeGreaterThan(1.1);
    const want = await widened.completions.create(request);
    expect(got.hearth!.ids).toEqual(want.hearth!.ids);
  }, 300_000);
});
