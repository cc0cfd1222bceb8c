/**
 * `hearth serve`: parse the flags, load the model, listen; SIGTERM or SIGINT drains the requests
 * in flight and exits.
 */
import { parseArgs } from 'node:util';
import { HearthError } from '../errors.js';
import type { WeightDtype } from '../models/load.js';
import { createServer, type ServeOptions } from './server.js';

export const SERVE_USAGE = `Usage:
  hearth serve --model <file|dir|url|owner/name> [--audio-model <dir|url|owner/name>] [options]

An OpenAI-compatible HTTP server on this machine's GPU: GET /v1/models, POST /v1/chat/completions,
POST /v1/completions (streaming as server-sent events), POST /v1/audio/transcriptions (with
--audio-model), GET /health.

Options:
  --host HOST            address to listen on (default 127.0.0.1: this machine only)
  --port N               port (default 8080; 0 picks a free one)
  --api-key KEY          require Authorization: Bearer KEY (repeatable: several keys);
                         default $HEARTH_API_KEY when set, else no auth
  --max-concurrent N     requests admitted to the engine at once (default 1)
  --batch N              continuous batching: up to N greedy requests decode together in one
                         forward pass per step (and N are admitted at once); default off
  --max-queue N          requests waiting at most; beyond: 429 with Retry-After (default 32)
  --context N            KV cache length in tokens; longer prompts get 400 (default: the model's, at most 4096)
  --dtype F              weights on the GPU as q4_0 | q8_0 | f16 | f32 (default: as stored)
  --audio-model M        also load a Whisper model (CTranslate2 model.bin or Hugging Face safetensors,
                         with tokenizer.json) for POST /v1/audio/transcriptions, on the same GPU
  --max-audio-size BYTES largest audio file a transcription takes (default 26214400, 25 MiB); larger: 413
  --cors ORIGIN          allow browser calls from ORIGIN (repeatable; '*' for any; default: CORS off)
  --max-body BYTES       largest request body (default 1048576); larger: 413
  --sessions DIR         keep conversations with their KV cache in DIR (the X-Hearth-Session extension)
  --log-content          log prompts and replies (default: only sizes and timings)
  --trust-proxy          take client addresses from X-Forwarded-For (behind your own load balancer)
  --quiet                no request log
  --revision REV, --endpoint URL, --token TOKEN   Hugging Face source options, as for generate
  -h, --help             this help
`;

const options = {
  model: { type: 'string' },
  'audio-model': { type: 'string' },
  'max-audio-size': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'api-key': { type: 'string', multiple: true },
  'max-concurrent': { type: 'string' },
  batch: { type: 'string' },
  'max-queue': { type: 'string' },
  context: { type: 'string' },
  dtype: { type: 'string' },
  cors: { type: 'string', multiple: true },
  'max-body': { type: 'string' },
  sessions: { type: 'string' },
  'log-content': { type: 'boolean' },
  'trust-proxy': { type: 'boolean' },
  quiet: { type: 'boolean' },
  revision: { type: 'string' },
  endpoint: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function int(v: string | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new HearthError('INVALID_ARGUMENT', `--${name} must be an integer of at least ${min}, got "${v}".`);
  return n;
}

/** Parsed flags as server options. */
export function serveOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): ServeOptions | 'help' {
  let v;
  try {
    v = parseArgs({ args: argv, options, allowPositionals: false, strict: true }).values;
  } catch (e) {
    throw new HearthError('INVALID_ARGUMENT', (e as Error).message, { hint: 'See hearth serve --help.' });
  }
  if (v.help) return 'help';
  if (!v.model) throw new HearthError('INVALID_ARGUMENT', '--model is required.', { hint: 'Give a local .gguf file or model folder, a URL, or a Hugging Face repo id.' });
  const dtype = v.dtype as WeightDtype | undefined;
  if (dtype && !['q4_0', 'q8_0', 'f16', 'f32'].includes(dtype)) throw new HearthError('INVALID_ARGUMENT', `--dtype must be q4_0, q8_0, f16 or f32, got "${dtype}".`);
  const keys = v['api-key'] ?? (env.HEARTH_API_KEY ? [env.HEARTH_API_KEY] : []);
  return {
    model: v.model,
    host: v.host,
    port: int(v.port, 'port', 0),
    apiKeys: keys,
    maxConcurrent: int(v['max-concurrent'], 'max-concurrent', 1),
    batch: int(v.batch, 'batch', 1),
    maxQueue: int(v['max-queue'], 'max-queue', 0),
    contextLength: int(v.context, 'context', 2),
    dtype,
    cors: v.cors,
    bodyLimit: int(v['max-body'], 'max-body', 1024),
    audioModel: v['audio-model'],
    maxAudioBytes: int(v['max-audio-size'], 'max-audio-size', 1024),
    sessionsDir: v.sessions,
    logContent: !!v['log-content'],
    trustProxy: !!v['trust-proxy'],
    logger: v.quiet ? false : { level: 'info' },
    revision: v.revision,
    endpoint: v.endpoint,
    token: v.token,
  };
}

export async function serveMain(argv: string[]): Promise<number> {
  const opts = serveOptions(argv);
  if (opts === 'help') {
    process.stdout.write(SERVE_USAGE);
    return 0;
  }
  const t0 = performance.now();
  const server = await createServer({
    ...opts,
    onModelEvent: (e) => process.stderr.write(e.kind === 'loaded' ? `hearth serve: model loaded in ${((e.ms ?? 0) / 1000).toFixed(1)} s\n` : `hearth serve: ${e.kind}${e.error ? `: ${String(e.error)}` : ''}\n`),
  });
  const url = await server.listen();
  const engine = server.model.current();
  const info = engine.info;
  const audio = engine.audio.info;
  process.stderr.write(
    `hearth serve: ${server.model.id} on ${info.adapter.description || info.adapter.vendor}, context ${info.contextLength}, ready in ${((performance.now() - t0) / 1000).toFixed(1)} s\n` +
      (audio ? `hearth serve: speech to text with ${server.model.audioId} (Whisper, ${(audio.memoryBytes / 1024 / 1024).toFixed(0)} MiB on the GPU)\n` : '') +
      `hearth serve: listening on ${url}/v1${opts.apiKeys?.length ? ' (API key required)' : ''}\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`hearth serve: ${signal}: draining ${server.scheduler.stats.active} running and ${server.scheduler.stats.queued} queued request(s)\n`);
      void server.close().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  process.stderr.write('hearth serve: stopped\n');
  return 0;
}
