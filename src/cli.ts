/**
 * The `hearth` command line:
 *   hearth generate --model <file|dir|url|owner/name> (--prompt TEXT | --prompt-ids 1,2,3) [--chat [--system TEXT]] [options] [--json]
 *   hearth chat --model ... [--system TEXT] [options]
 *   hearth serve --model ... [options]   (src/serve/cli.ts)
 *   hearth transcribe FILE... [--model whisper] [options]   (src/transcribe-cli.ts)
 */
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline/promises';
import { createEngine, type NodeEngine } from './node.js';
import { HearthError, isHearthError } from './errors.js';
import type { WeightDtype } from './models/load.js';
import { KV_FORMATS, type KvFormat } from './kernels/kv_append.js';
import type { ChatMessage } from './tokenizer/index.js';
import { toGenerateRequest } from './api/openai.js';

const USAGE = `Usage:
  hearth serve --model <file|dir|url|owner/name> [options]   (an OpenAI-compatible server; hearth serve --help)
  hearth generate --model <file|dir|url|owner/name> (--prompt TEXT | --prompt-ids 1,2,3) [--chat [--system TEXT]] [options] [--json]
  hearth chat --model <file|dir|url|owner/name> [--system TEXT] [options]
  hearth transcribe FILE... [--model <whisper>] [options]   (speech to text; hearth transcribe --help)

Options:
  --chat                 generate: send --prompt as a user message through the model's chat
                         template (with --system as the system message), reply only
  --system TEXT          the system message (generate --chat, chat)
  --max-tokens N         most tokens to generate (generate: 256; chat: 1024)
  --temperature T        0 = greedy (default 1 for generate, 0.7 for chat)
  --top-k K              keep the K most likely tokens (0 = off)
  --top-p P              nucleus sampling (1 = off)
  --min-p P              drop tokens below P * p(max) (0 = off)
  --repetition-penalty R 1 = off
  --seed S               same seed, same output
  --top-logprobs K       report the K most likely tokens at each step (generate --json)
  --stop STR             stop at this string (repeatable)
  --ignore-eos           keep generating past end-of-sequence
  --dtype F              weights on the GPU as q4_0 | q8_0 | f16 | f32 (default: as stored)
  --context-length N     KV cache length (default: the model's, at most 4096)
  --kv-cache F           KV cache values as f32 | f16 | q8 (f16: half the memory and attention reads; q8: 0.28x)
  --revision REV         Hugging Face revision (default main)
  --endpoint URL         Hugging Face endpoint or mirror (default $HF_ENDPOINT, else huggingface.co)
  --token TOKEN          Hugging Face access token for gated repos (default $HF_TOKEN)
  --json                 generate: print one JSON object instead of text
  -h, --help             this help
`;

const options = {
  model: { type: 'string' },
  prompt: { type: 'string' },
  'prompt-ids': { type: 'string' },
  system: { type: 'string' },
  chat: { type: 'boolean' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  seed: { type: 'string' },
  'top-logprobs': { type: 'string' },
  stop: { type: 'string', multiple: true },
  'ignore-eos': { type: 'boolean' },
  dtype: { type: 'string' },
  'context-length': { type: 'string' },
  'kv-cache': { type: 'string' },
  revision: { type: 'string' },
  endpoint: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

function numberOpt(v: string | undefined, name: string, integer = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new HearthError('INVALID_ARGUMENT', `--${name} must be ${integer ? 'an integer' : 'a number'}, got "${v}".`);
  }
  return n;
}

function parseIds(s: string): number[] {
  const ids = s.split(/[\s,]+/).filter(Boolean).map(Number);
  if (!ids.length || ids.some((x) => !Number.isInteger(x) || x < 0)) {
    throw new HearthError('INVALID_ARGUMENT', `--prompt-ids must be comma-separated non-negative integers, got "${s}".`);
  }
  return ids;
}

function samplingFrom(v: Values, defaults: { temperature: number }) {
  return {
    temperature: numberOpt(v.temperature, 'temperature') ?? defaults.temperature,
    top_k: numberOpt(v['top-k'], 'top-k', true),
    top_p: numberOpt(v['top-p'], 'top-p'),
    min_p: numberOpt(v['min-p'], 'min-p'),
    repetition_penalty: numberOpt(v['repetition-penalty'], 'repetition-penalty'),
    seed: numberOpt(v.seed, 'seed', true),
    stop: v.stop,
    ignore_eos: v['ignore-eos'],
  };
}

async function load(v: Values): Promise<{ engine: NodeEngine; loadMs: number }> {
  if (!v.model) throw new HearthError('INVALID_ARGUMENT', '--model is required.', { hint: 'Give a local .gguf file or model folder, a URL, or a Hugging Face repo id.' });
  const dtype = v.dtype as WeightDtype | undefined;
  if (dtype && !['q4_0', 'q8_0', 'f16', 'f32'].includes(dtype)) throw new HearthError('INVALID_ARGUMENT', `--dtype must be q4_0, q8_0, f16 or f32, got "${dtype}".`);
  const kvCache = v['kv-cache'];
  if (kvCache !== undefined && !(KV_FORMATS as readonly string[]).includes(kvCache)) throw new HearthError('INVALID_ARGUMENT', `--kv-cache must be ${KV_FORMATS.join(' or ')}, got "${kvCache}".`);
  const t0 = performance.now();
  const engine = await createEngine({
    model: v.model,
    dtype,
    contextLength: numberOpt(v['context-length'], 'context-length', true),
    kvCache: kvCache as KvFormat | undefined,
    revision: v.revision,
    endpoint: v.endpoint,
    token: v.token,
  });
  return { engine, loadMs: performance.now() - t0 };
}

async function generate(v: Values): Promise<void> {
  if ((v.prompt === undefined) === (v['prompt-ids'] === undefined)) {
    throw new HearthError('INVALID_ARGUMENT', 'Give exactly one of --prompt and --prompt-ids.');
  }
  if (v.chat && v.prompt === undefined) throw new HearthError('INVALID_ARGUMENT', '--chat needs --prompt (the user message).');
  if (v.system !== undefined && !v.chat) throw new HearthError('INVALID_ARGUMENT', '--system goes with --chat (or use `hearth chat`).');
  const { engine, loadMs } = await load(v);
  try {
    const messages: ChatMessage[] = v.chat ? [...(v.system !== undefined ? [{ role: 'system', content: v.system }] : []), { role: 'user', content: v.prompt! }] : [];
    const promptIds =
      v['prompt-ids'] !== undefined
        ? parseIds(v['prompt-ids'])
        : v.chat
          ? engine.tokenizer.encodeChat(messages, { addGenerationPrompt: true })
          : engine.tokenizer.encode(v.prompt!, { addSpecialTokens: true });
    const topLogprobs = numberOpt(v['top-logprobs'], 'top-logprobs', true);
    const params = {
      prompt: promptIds,
      max_tokens: numberOpt(v['max-tokens'], 'max-tokens', true) ?? 256,
      logprobs: topLogprobs,
      ...samplingFrom(v, { temperature: 1 }),
    };
    if (v.json) {
      const r = await engine.engine.generate(toGenerateRequest(engine.engine, params, promptIds, topLogprobs ?? 0));
      const out = {
        prompt_ids: promptIds,
        ids: r.ids,
        text: r.text,
        finish_reason: r.finishReason,
        // the weights' bytes on the GPU (matrices in their formats, norms as f32)
        gpu_bytes: engine.info.weightBytes,
        // kernel launches of one decode step, with this request's sampling
        dispatches_per_token: engine.info.dispatchesPerToken,
        logprobs: topLogprobs !== undefined ? r.tokens.map((t) => ({ id: t.id, logprob: t.logprob, top: t.top })) : null,
        usage: { prompt_tokens: r.usage.promptTokens, completion_tokens: r.usage.completionTokens, total_tokens: r.usage.totalTokens },
        timings: {
          load_ms: round(loadMs),
          prefill_ms: round(r.timings.prefillMs),
          decode_ms: round(r.timings.decodeMs),
          ttft_ms: round(r.timings.ttftMs),
          prefill_tokens_per_second: round(r.timings.prefillTokensPerSecond),
          decode_tokens_per_second: round(r.timings.decodeTokensPerSecond),
        },
      };
      process.stdout.write(`${JSON.stringify(out)}\n`);
    } else {
      // a plain prompt is echoed and continued; a chat prints the reply alone
      if (v.prompt !== undefined && !v.chat) process.stdout.write(v.prompt);
      let last = null;
      if (v.chat) {
        const { prompt: _ids, logprobs: _lp, ...sampling } = params;
        const stream = await engine.chat.completions.create({ ...sampling, messages, stream: true });
        for await (const chunk of stream) {
          process.stdout.write(chunk.choices[0]?.delta.content ?? '');
          last = chunk;
        }
      } else {
        const stream = await engine.completions.create({ ...params, stream: true });
        for await (const chunk of stream) {
          process.stdout.write(chunk.choices[0]!.text);
          last = chunk;
        }
      }
      process.stdout.write('\n');
      const t = last?.hearth?.timings;
      if (t) process.stderr.write(`[load ${(loadMs / 1000).toFixed(2)} s, prefill ${t.prefill_tokens_per_second.toFixed(1)} tok/s, decode ${t.decode_tokens_per_second.toFixed(1)} tok/s]\n`);
    }
  } finally {
    await engine.unload();
  }
}

const round = (x: number) => Math.round(x * 100) / 100;

async function chat(v: Values): Promise<void> {
  const { engine, loadMs } = await load(v);
  process.stderr.write(`Loaded ${v.model} in ${(loadMs / 1000).toFixed(1)} s on ${engine.info.adapter.description || engine.info.adapter.vendor}. Type a message; /reset starts over, /exit or Ctrl-D quits.\n`);
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
  const messages: ChatMessage[] = v.system ? [{ role: 'system', content: v.system }] : [];
  let current: AbortController | null = null;
  rl.on('SIGINT', () => {
    if (current) current.abort();
    else rl.close();
  });
  // lines are read through the interface's async iterator, which queues them: piped input
  // (`hearth chat < questions.txt`) arrives all at once, while a reply is still being generated
  const lines = rl[Symbol.asyncIterator]();
  try {
    for (;;) {
      rl.setPrompt('> ');
      rl.prompt();
      const next = await lines.next();
      if (next.done) break; // closed (Ctrl-D, end of input)
      if (!process.stdin.isTTY) process.stdout.write(`${next.value}\n`);
      const text = next.value.trim();
      if (!text) continue;
      if (text === '/exit' || text === '/quit') break;
      if (text === '/reset') {
        messages.splice(v.system ? 1 : 0);
        process.stdout.write('(conversation cleared)\n');
        continue;
      }
      messages.push({ role: 'user', content: text });
      current = new AbortController();
      let reply = '';
      try {
        const stream = await engine.chat.completions.create(
          { messages, stream: true, max_tokens: numberOpt(v['max-tokens'], 'max-tokens', true) ?? 1024, ...samplingFrom(v, { temperature: 0.7 }) },
          { signal: current.signal },
        );
        let last = null;
        for await (const chunk of stream) {
          const d = chunk.choices[0]?.delta.content ?? '';
          reply += d;
          process.stdout.write(d);
          last = chunk;
        }
        const h = last?.hearth;
        process.stdout.write('\n');
        if (h) process.stderr.write(`[${h.ids.length} tokens, prefill ${h.prefilled_tokens} (reused ${h.reused_tokens}), ${h.timings.decode_tokens_per_second.toFixed(1)} tok/s]\n`);
      } catch (e) {
        if (!isHearthError(e, 'ABORTED')) throw e;
        process.stdout.write(' [stopped]\n');
      }
      current = null;
      messages.push({ role: 'assistant', content: reply });
    }
  } finally {
    rl.close();
    await engine.unload();
  }
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'serve') {
    // its own flags (src/serve/cli.ts); the server module loads only for this command
    const { serveMain } = await import('./serve/cli.js');
    try {
      return await serveMain(argv.slice(1));
    } catch (e) {
      if (!isHearthError(e)) throw e;
      process.stderr.write(`hearth: ${e.message} [${e.code}]\n`);
      return e.code === 'INVALID_ARGUMENT' ? 2 : 1;
    }
  }
  if (argv[0] === 'transcribe') {
    const { transcribeMain } = await import('./transcribe-cli.js');
    try {
      return await transcribeMain(argv.slice(1));
    } catch (e) {
      if (!isHearthError(e)) throw e;
      process.stderr.write(`hearth: ${e.message} [${e.code}]\n`);
      return e.code === 'INVALID_ARGUMENT' ? 2 : 1;
    }
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const [command] = parsed.positionals;
  if (parsed.values.help || !command) {
    process.stdout.write(USAGE);
    return command || parsed.values.help ? 0 : 2;
  }
  try {
    if (command === 'generate') await generate(parsed.values);
    else if (command === 'chat') await chat(parsed.values);
    else {
      process.stderr.write(`Unknown command "${command}".\n\n${USAGE}`);
      return 2;
    }
    return 0;
  } catch (e) {
    if (isHearthError(e)) {
      process.stderr.write(`hearth: ${e.message} [${e.code}]\n`);
      return 1;
    }
    throw e;
  }
}
