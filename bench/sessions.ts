/**
 * Sessions benchmark in Node (Dawn): time to first token of turn N of a long chat, with and
 * without the persistent KV cache, and what the cache costs on disk.
 *
 *   node --import tsx --import ./scripts/register-raw.mjs bench/sessions.ts \
 *     [--model smollm2|stories] [--type F16|Q8_0|Q4_0|F32] [--history 2000] [--turn 24] [--reply 16]
 *     [--formats f32,f16,q8] [--repeats 3] [--context N] [--json bench/out/sessions.json]
 *
 * A conversation of about --history tokens (random words; SmolLM2-135M shape with random weights,
 * or the real stories260K) is stored as a session on disk (NodeSessionStore, a temp folder), once
 * per KV format. Then turn N, a new user message of --turn tokens, is timed from the call to the
 * first streamed token in three situations:
 *   cold      no persistent cache: a fresh engine cache prefills the whole conversation
 *   restored  after a "reload" (engine cache reset): the session's KV is read from disk, decoded
 *             and uploaded, and only the new turn is prefilled
 *   live      the engine still holds the conversation (no reload): only the new turn is prefilled
 * and the greedy reply of turn N from each stored format is compared with the f32 one.
 * The disk reads hit the OS page cache (the files were just written): a cold disk adds its read
 * time for the bytes per token shown.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadEngine } from '../src/engine/load.js';
import type { Engine } from '../src/engine/engine.js';
import { createNodeGpuContext } from '../src/gpu/node.js';
import { resolveModelSource } from '../src/hub/resolve.js';
import { createOpenAIApi } from '../src/api/openai.js';
import { Sessions } from '../src/sessions/sessions.js';
import { NodeSessionStore } from '../src/sessions/store-node.js';
import { bytesPerToken, type KvFormat } from '../src/sessions/kv-codec.js';
import type { ChatMessage } from '../src/tokenizer/index.js';
import { syntheticGgufFile, type GgufType } from './lib/gguf-file.js';
import { MODELS, syntheticSpec } from './lib/shapes.js';
import { spread, type Spread } from './lib/stats.js';

const STORIES_GGUF = new URL('../../shared/models/stories260K/stories260K.gguf', import.meta.url).pathname;

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'smollm2' },
    type: { type: 'string', default: 'F16' },
    history: { type: 'string', default: '2000' },
    turn: { type: 'string', default: '24' },
    reply: { type: 'string', default: '16' },
    formats: { type: 'string', default: 'f32,f16,q8' },
    repeats: { type: 'string', default: '3' },
    /** KV cache length; default history + two turns + 600 (stories260K holds 512 at most). */
    context: { type: 'string' },
    json: { type: 'string' },
  },
});

const log = (s: string) => console.error(s);
const HISTORY = Number(args.history);
const TURN = Number(args.turn);
const REPLY = Number(args.reply);
const REPEATS = Number(args.repeats);
const FORMATS = args.formats!.split(',') as KvFormat[];

/** Deterministic words (English for stories260K, vocabulary pieces for the synthetic model). */
function words(engine: Engine, n: number, seed: number): string {
  let s = (seed * 2654435761) >>> 0;
  const out: string[] = [];
  const english = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'Lily', 'was', 'happy', 'and', 'she', 'saw', 'big', 'red', 'ball', 'in', 'park', 'day'];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(args.model === 'stories' ? english[s % english.length]! : `t${300 + (s % 500)}`);
  }
  return out.join(' ');
}

/** Words that make about `tokens` tokens. */
function wordsFor(engine: Engine, tokens: number, seed: number): string {
  const perWord = engine.tokenizer.encode(words(engine, 64, 7), { addSpecialTokens: false }).length / 64;
  return words(engine, Math.max(1, Math.round(tokens / perWord)), seed);
}

/** A conversation of alternating ~120-token messages whose prompt is about `tokens` long, ending with a user message. */
function conversation(engine: Engine, tokens: number): ChatMessage[] {
  const messages: ChatMessage[] = [];
  for (let i = 0; ; i++) {
    messages.push({ role: i % 2 ? 'assistant' : 'user', content: wordsFor(engine, Math.min(120, tokens), i + 1) });
    if (i % 2 === 0 && engine.tokenizer.encodeChat(messages).length >= tokens) return messages;
  }
}

/** Wall time from the call to the first streamed content, and the final chunk's figures. */
async function firstToken(stream: () => Promise<AsyncIterable<{ choices: { delta: { content?: string } }[]; hearth?: { prefilled_tokens: number; reused_tokens: number; ids: number[]; prompt_ids: number[] }; session?: { restoredTokens: number; restoreMs: number; storedTokens: number } }>>) {
  const t0 = performance.now();
  let ttft = NaN;
  let last: Awaited<ReturnType<typeof stream>> extends AsyncIterable<infer C> ? C : never = null as never;
  for await (const c of await stream()) {
    if (Number.isNaN(ttft) && c.choices[0]?.delta.content) ttft = performance.now() - t0;
    last = c;
  }
  return { ttft, hearth: last.hearth!, session: last.session ?? null };
}

interface FormatResult {
  format: KvFormat;
  storedTokens: number;
  diskBytes: number;
  diskBytesPerToken: number;
  codecBytesPerToken: number;
  restored: Spread;
  restoreMs: Spread;
  restoredTokens: number;
  live: Spread;
  prefilledRestored: number;
  prefilledLive: number;
  sameIdsAsF32: number;
}

async function main(): Promise<void> {
  const ctx = await createNodeGpuContext();
  log(`adapter: ${ctx.adapterInfo.vendor} ${ctx.adapterInfo.architecture} ${ctx.adapterInfo.description ?? ''}`.trim());
  const path = args.model === 'stories' ? STORIES_GGUF : syntheticGgufFile('smollm2-135m', syntheticSpec(MODELS.smollm2), args.type as GgufType, log);
  const modelName = args.model === 'stories' ? 'stories260K' : `SmolLM2-135M shape, random weights, ${args.type}`;
  const contextLength = args.context ? Number(args.context) : HISTORY + 2 * (TURN + REPLY) + 600;
  const t0 = performance.now();
  const engine = await loadEngine(ctx, await resolveModelSource(path), { contextLength });
  log(`${modelName}: loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s, context ${contextLength}`);
  const api = createOpenAIApi(engine, modelName);
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-sessions-'));
  const sessions = new Sessions({ store: new NodeSessionStore(dir), engine: () => engine });
  const greedy = { temperature: 0, max_tokens: REPLY, ignore_eos: true };
  try {
    const history = conversation(engine, HISTORY);
    // warm-up: pipelines compile at their first dispatch
    await engine.generate({ promptIds: engine.tokenizer.encode(wordsFor(engine, 8, 99)), maxTokens: 2, sampling: { temperature: 0 }, stopIds: [] });

    // one stored session per format, holding the conversation and its reply (turns 1..N-1)
    const ids: Record<string, string> = {};
    let before: ChatMessage[] = [];
    for (const format of FORMATS) {
      await sessions.configure({ kvFormat: format });
      const { id } = await sessions.create({ title: format, messages: history });
      const t = performance.now();
      const r = await sessions.chat(id, greedy);
      log(`stored the ${r.session.storedTokens}-token conversation as ${format} (${r.hearth.prefilled_tokens} prefilled, written in ${r.session.persistMs.toFixed(0)} ms; turn ${((performance.now() - t) / 1000).toFixed(1)} s)`);
      ids[format] = id;
      before = (await sessions.get(id)).messages;
    }
    // turns start with different letters: no token of one turn N is reused by the other
    const turnN = (k: number): ChatMessage[] => [...before, { role: 'user', content: `${'ab'[k]} ${wordsFor(engine, TURN, 1000 + k)}` }];

    // cold: no persistent cache; the engine prefills everything
    const cold: number[] = [];
    let coldPrompt = 0;
    for (let r = 0; r < REPEATS; r++) {
      engine.resetCache();
      const m = await firstToken(() => api.chat.completions.create({ messages: turnN(r % 2), ...greedy, stream: true }));
      cold.push(m.ttft);
      coldPrompt = m.hearth.prompt_ids.length;
      log(`cold     run ${r + 1}: ttft ${m.ttft.toFixed(1)} ms (${m.hearth.prefilled_tokens} prefilled)`);
    }

    const results: FormatResult[] = [];
    let f32Reply: number[] | null = null;
    for (const format of FORMATS) {
      const id = ids[format]!;
      const restored: number[] = [];
      const restoreMs: number[] = [];
      const live: number[] = [];
      let restoredTokens = 0;
      let prefilledRestored = 0;
      let prefilledLive = 0;
      let reply: number[] = [];
      for (let r = 0; r < REPEATS; r++) {
        // after a reload: nothing in the engine, the session on disk
        engine.resetCache();
        const a = await firstToken(() => sessions.chat(id, { messages: turnN(0), ...greedy, stream: true }));
        restored.push(a.ttft);
        restoreMs.push(a.session!.restoreMs);
        restoredTokens = a.session!.restoredTokens;
        prefilledRestored = a.hearth.prefilled_tokens;
        reply = a.hearth.ids;
        // no reload: the engine holds the conversation; another turn N of the same length
        const b = await firstToken(() => sessions.chat(id, { messages: turnN(1), ...greedy, stream: true }));
        live.push(b.ttft);
        prefilledLive = b.hearth.prefilled_tokens;
        log(`${format.padEnd(4)} run ${r + 1}: restored ttft ${a.ttft.toFixed(1)} ms (${a.session!.restoredTokens} tokens read in ${a.session!.restoreMs.toFixed(1)} ms, ${a.hearth.prefilled_tokens} prefilled); live ttft ${b.ttft.toFixed(1)} ms (${b.hearth.prefilled_tokens} prefilled)`);
      }
      f32Reply ??= reply;
      let same = 0;
      while (same < reply.length && reply[same] === f32Reply[same]) same++;
      // the conversation's own chunk, not this run's turns: the session before turn N
      const info = await sessions.get(id);
      const shape = { layers: engine.config.numLayers, kvHeads: engine.config.numKvHeads, headDim: engine.config.headDim };
      results.push({
        format,
        storedTokens: info.storedTokens,
        diskBytes: info.bytes,
        diskBytesPerToken: info.bytes / info.storedTokens,
        codecBytesPerToken: bytesPerToken(format, shape),
        restored: spread(restored),
        restoreMs: spread(restoreMs),
        restoredTokens,
        live: spread(live),
        prefilledRestored,
        prefilledLive,
        sameIdsAsF32: same,
      });
    }

    const coldS = spread(cold);
    const out = {
      model: modelName,
      adapter: ctx.adapterInfo,
      storedTokensBeforeTurnN: results[0]?.storedTokens ?? 0,
      promptTokensTurnN: coldPrompt,
      turnTokens: TURN,
      replyTokens: REPLY,
      repeats: REPEATS,
      cold: coldS,
      formats: results,
    };
    console.log(`\n${modelName} on ${ctx.adapterInfo.vendor} ${ctx.adapterInfo.architecture}: turn N has ${coldPrompt} prompt tokens (${TURN}-token user turn); median of ${REPEATS}`);
    console.log(`cold (no persistent cache, whole prompt prefilled): ttft ${coldS.median.toFixed(1)} ms`);
    console.log('format  restored ttft (read+decode+upload)  live ttft  prefilled  bytes/token on disk (codec)  greedy ids = f32');
    for (const r of results) {
      console.log(
        `${r.format.padEnd(6)}  ${r.restored.median.toFixed(1).padStart(8)} ms (${r.restoreMs.median.toFixed(1)} ms for ${r.restoredTokens} tok)`.padEnd(44) +
          `${r.live.median.toFixed(1).padStart(7)} ms  ${String(r.prefilledRestored).padStart(5)}/${r.prefilledLive}  ${r.diskBytesPerToken.toFixed(0).padStart(8)} (${r.codecBytesPerToken.toFixed(0)})  ${r.sameIdsAsF32}/${REPLY}`,
      );
    }
    if (args.json) {
      mkdirSync(dirname(args.json), { recursive: true });
      writeFileSync(args.json, JSON.stringify(out, null, 2));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await engine.unload();
    ctx.destroy();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
