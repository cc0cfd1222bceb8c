/**
 * Structured output costs: grammar compile time per schema, the token mask's cost per token at
 * SmolLM2's 49k and Gemma 3's 262k vocabularies (XGrammar, as Hearth runs it), the sampler's GPU
 * time with and without a mask, and, when its source is given, the same per-token figures for
 * transformers.js's engine (@huggingface/transformers-structured-output) for the comparison.
 *
 *   npm run bench:structured -- [--hf-engine /path/to/transformers-structured-output/src/engine/index.ts]
 */
import { parseArgs } from 'node:util';
import { readGgufHeader } from '../src/formats/gguf.js';
import { NodeFileByteSource } from '../src/hub/node-fs.js';
import { tokenizerFromGguf, type Tokenizer } from '../src/tokenizer/index.js';
import { compileConstraint, grammarVocab } from '../src/engine/constraint.js';
import { createNodeGpuContext } from '../src/gpu/node.js';
import { StepUniform, encodeDispatches } from '../src/gpu/dispatch.js';
import { uploadStorage } from '../src/gpu/buffers.js';
import { createSampler } from '../src/kernels/sample.js';
import { GREEDY_SAMPLING } from '../src/kernels/sampling.js';
import { join } from 'node:path';
import { GEMMA3_270M, modelsDir, SMOLLM2_135M } from '../scripts/models.mjs';
import { SCHEMAS } from '../test/helpers/schemas.js';

const { values: args } = parseArgs({ options: { 'hf-engine': { type: 'string' } } });

/** A JSON text that fits each schema, fed token by token to time the masks along a real reply. */
const REPLY = '{"name": "Ana Lima", "age": 31, "tags": ["red", "blue"], "ok": true, "note": "all good here"}';
const REPLY_SCHEMA = {
  type: 'object',
  properties: { name: { type: 'string' }, age: { type: 'integer' }, tags: { type: 'array', items: { type: 'string' } }, ok: { type: 'boolean' }, note: { type: 'string' } },
  required: ['name', 'age', 'tags', 'ok', 'note'],
};

async function tokenizerOf(path: string): Promise<Tokenizer> {
  return tokenizerFromGguf((await readGgufHeader(new NodeFileByteSource(path, path))).metadata);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Token bytes for engines that take them directly (GPT-2 byte-level and SentencePiece byte fallback). */
function tokenBytes(tok: Tokenizer, vocab: number): Uint8Array[] {
  const { tokens, type } = grammarVocab(tok, vocab);
  const gpt2 = new Map<string, number>();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const visible = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    gpt2.set(String.fromCharCode(visible ? b : 256 + n++), b);
  }
  const enc = new TextEncoder();
  return tokens.map((t) => {
    const byte = /^<0x([0-9A-F]{2})>$/i.exec(t);
    if (byte) return Uint8Array.of(parseInt(byte[1]!, 16));
    if (type === 'byte_level') return Uint8Array.from([...t].flatMap((c) => (gpt2.has(c) ? [gpt2.get(c)!] : [...enc.encode(c)])));
    return enc.encode(type === 'byte_fallback' ? t.replaceAll('▁', ' ') : t);
  });
}

interface HfEngine {
  createTokenConstraint(tok: object, rf: object): { fillMask(m: Uint32Array): boolean; commit(id: number): boolean };
}

async function main(): Promise<void> {
  const out: string[] = [];
  const log = (s: string) => {
    out.push(s);
    console.log(s);
  };
  const hf = args['hf-engine'] ? ((await import(args['hf-engine'])) as HfEngine) : null;
  for (const [label, path] of [['SmolLM2-135M (49,152)', join(modelsDir(), SMOLLM2_135M)], ['Gemma 3 270M (262,144)', join(modelsDir(), GEMMA3_270M)]] as const) {
    const tok = await tokenizerOf(path);
    const vocab = tok.vocabSize;
    let t0 = performance.now();
    const first = await compileConstraint(tok, vocab, { type: 'json_object' }, 'bench');
    log(`\n## ${label}\n\ntokenizer info + first grammar: ${(performance.now() - t0).toFixed(0)} ms (json_object compile ${first.compileMs.toFixed(0)} ms)`);
    const compileMs: number[] = [];
    for (const s of SCHEMAS) compileMs.push((await compileConstraint(tok, vocab, { type: 'json_schema', schema: s.schema }, 'bench')).compileMs);
    t0 = performance.now();
    await compileConstraint(tok, vocab, { type: 'json_schema', schema: SCHEMAS[1]!.schema }, 'bench');
    const cachedMs = performance.now() - t0;
    const slowest = SCHEMAS.map((s, i) => [s.name, compileMs[i]!] as const).sort((a, b) => b[1] - a[1]).slice(0, 3);
    log(`compile per schema (${SCHEMAS.length} test schemas): median ${median(compileMs).toFixed(1)} ms, max ${Math.max(...compileMs).toFixed(1)} ms (slowest: ${slowest.map(([n, ms]) => `${n} ${ms.toFixed(0)} ms`).join(', ')}); from the cache ${cachedMs.toFixed(2)} ms`);
    const ids = tok.encode(REPLY, { addSpecialTokens: false });
    const c = await compileConstraint(tok, vocab, { type: 'json_schema', schema: REPLY_SCHEMA }, 'bench');
    const per: number[] = [];
    for (let rep = 0; rep < 3; rep++) {
      const m = await c.create();
      for (const id of ids) {
        const t = performance.now();
        m.nextMask();
        per.push(performance.now() - t);
        m.accept(id);
      }
    }
    log(`XGrammar mask per token (${ids.length}-token reply, 3 runs): median ${median(per).toFixed(2)} ms, max ${Math.max(...per).toFixed(2)} ms`);
    if (hf) {
      const source = { tokens: tokenBytes(tok, vocab), eosTokenId: tok.eosIds[0]!, specialTokenIds: tok.eosIds };
      t0 = performance.now();
      const hc = hf.createTokenConstraint(source, { type: 'json_schema', json_schema: REPLY_SCHEMA });
      const hfSetup = performance.now() - t0;
      const mask = new Uint32Array(Math.ceil(vocab / 32));
      const hper: number[] = [];
      for (const id of ids) {
        const t = performance.now();
        hc.fillMask(mask);
        hper.push(performance.now() - t);
        hc.commit(id);
      }
      log(`transformers.js engine: setup (tokenizer tries + schema) ${hfSetup.toFixed(0)} ms; mask per token median ${median(hper).toFixed(2)} ms, max ${Math.max(...hper).toFixed(2)} ms`);
    }
  }

  // GPU: the sampler alone, with and without a mask (upload + masked passes), SwiftShader or GPU
  const ctx = await createNodeGpuContext();
  const step = new StepUniform(ctx);
  log(`\n## Sampler step on ${ctx.adapterInfo.description || ctx.adapterInfo.vendor} (greedy; the lower of two medians of 40 steps)\n`);
  for (const vocab of [49152, 262144]) {
    const logits = uploadStorage(ctx, Float32Array.from({ length: vocab }, (_, i) => Math.sin(i)), 'logits');
    const s = createSampler(ctx, { step: step.buffer, logits, vocab });
    s.setParams({ ...GREEDY_SAMPLING });
    const mask = new Uint32Array(Math.ceil(vocab / 32)).fill(0x55555555);
    const time = async (withMask: boolean): Promise<number> => {
      const ts: number[] = [];
      for (let i = 0; i < 41; i++) {
        const t = performance.now();
        s.setMask(withMask ? mask : null);
        const p = { tokens: 1, pos: 0, kvLen: 1, seed: i };
        step.write(p);
        const enc = ctx.device.createCommandEncoder();
        encodeDispatches(enc, s.dispatches, p);
        s.copyResult(enc);
        ctx.device.queue.submit([enc.finish()]);
        await s.readResult();
        if (i > 0) ts.push(performance.now() - t);
      }
      return median(ts);
    };
    // alternated, twice each, so load on a shared machine falls on both
    const runs: [number[], number[]] = [[], []];
    for (let k = 0; k < 4; k++) runs[k % 2]!.push(await time(k % 2 === 1));
    const plain = Math.min(...runs[0]);
    const masked = Math.min(...runs[1]);
    log(`vocab ${vocab}: sampler step ${plain.toFixed(2)} ms without a mask, ${masked.toFixed(2)} ms with one (mask ${(vocab / 8 / 1024).toFixed(1)} KiB uploaded per step)`);
    s.destroy();
    logits.destroy();
  }
  step.destroy();
  ctx.device.destroy();
  process.exit(0);
}

await main();
