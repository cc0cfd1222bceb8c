/**
 * OpenAI's speech to text: POST /v1/audio/transcriptions, multipart/form-data with `file` (WAV,
 * MP3, FLAC, OGG Vorbis/Opus or WebM: the engine decodes it), `model`, `language`, `prompt`,
 * `temperature`, `response_format` (json | text | verbose_json | srt | vtt) and
 * `timestamp_granularities[]`, answered by the Whisper model `hearth serve --audio-model` loaded
 * next to the chat model (engine.audio.transcriptions.create: the same checks and shapes as in
 * the library).
 *
 * The upload is read (up to --max-audio-size, 25 MiB by default as OpenAI's) and checked before
 * the request waits for the GPU, so a slow upload or a bad request never holds a slot. Then it is
 * admitted through the same fair queue as chat requests (routes/openai.ts via generate()): one
 * slot, 429 beyond the queue, a client that goes away aborts its transcription. Whisper's
 * buffers are its own (the chat engine's are never touched) and each model runs its own work one
 * step at a time, so with several slots (--max-concurrent, --batch) a transcription's command
 * buffers only interleave with chat steps' on the device queue, which runs them in order.
 *
 * multipart/form-data is parsed by @fastify/multipart (busboy), registered in this module's own
 * fastify scope: the other endpoints keep refusing any body that is not JSON.
 */
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HearthError, isHearthError } from '../../errors.js';
import { checkTranscriptionParams, type TranscriptionCreateParams, type TranscriptionResponseFormat, type TranscriptionResult } from '../../api/audio.js';
import { gpuFailure } from '../../gpu/device.js';
import type { ServeContext } from '../context.js';
import { generate, sendError } from '../generate.js';

/** OpenAI's limit on an uploaded audio file. */
export const DEFAULT_MAX_AUDIO_BYTES = 25 * 1024 * 1024;

/** OpenAI's name for its Whisper: clients written for OpenAI send it, and get the loaded model. */
const OPENAI_WHISPER = 'whisper-1';

/** Form fields a request may carry besides `file` (OpenAI's, less those only its newer models take). */
const FIELDS = new Set(['model', 'language', 'prompt', 'temperature', 'response_format', 'timestamp_granularities', 'stream']);

/** Text formats and their Content-Type (OpenAI answers text and srt as text/plain). */
const TEXT_TYPES: Partial<Record<TranscriptionResponseFormat, string>> = {
  text: 'text/plain; charset=utf-8',
  srt: 'text/plain; charset=utf-8',
  vtt: 'text/vtt; charset=utf-8',
};

interface Form {
  file: Uint8Array | null;
  filename: string;
  /** Field values by name (a trailing [] dropped), in the order sent. */
  fields: Map<string, string[]>;
}

const bad = (message: string, hint: string, param?: string) => new HearthError('INVALID_ARGUMENT', message, { hint, details: param ? { param } : undefined });

/** A multipart parser's failure (limits, malformed bodies) as a typed error. */
function formError(e: unknown, maxBytes: number): unknown {
  if (e instanceof HearthError) return e;
  const code = (e as { code?: unknown }).code;
  switch (code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return new HearthError('PAYLOAD_TOO_LARGE', `The audio file is larger than this server accepts (${(maxBytes / 1024 / 1024).toFixed(1)} MiB).`, {
        hint: 'Send a shorter recording, or a compressed one (MP3, Opus), or split it; or start the server with a larger --max-audio-size.',
        details: { param: 'file' },
      });
    case 'FST_FILES_LIMIT':
      return bad('The request carries more than one file.', 'Send one audio file, in the `file` field.', 'file');
    case 'FST_FIELDS_LIMIT':
    case 'FST_PARTS_LIMIT':
      return bad('The request has too many form fields.', 'Send `file` and the fields of OpenAI’s transcription request only.');
    case 'FST_PROTO_VIOLATION':
      return bad('A form field has a forbidden name.', 'Use the field names of OpenAI’s transcription request.');
    case 'FST_MP_PREMATURE_CLOSE':
      return new HearthError('ABORTED', 'The client disconnected during the upload.');
  }
  // busboy: "Unexpected end of form", "Malformed part header", no boundary...: the body is not valid multipart
  return bad(`We could not parse the multipart/form-data body of your request (${e instanceof Error ? e.message : String(e)}).`, 'Send the audio as multipart/form-data with a `file` part, as the OpenAI clients and curl -F do.');
}

/** Reads the whole form: the file into memory (at most maxBytes), the fields as strings. */
async function readForm(req: FastifyRequest, maxBytes: number): Promise<Form> {
  const form: Form = { file: null, filename: '', fields: new Map() };
  try {
    for await (const part of req.parts({ limits: { fileSize: maxBytes, files: 1, fields: 32, fieldSize: 64 * 1024, parts: 40 } })) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file') {
          part.file.resume();
          throw bad(`Unexpected file in the form field \`${part.fieldname}\`.`, 'The audio goes in the `file` field.', part.fieldname);
        }
        form.file = await part.toBuffer();
        form.filename = part.filename;
        continue;
      }
      const name = part.fieldname.endsWith('[]') ? part.fieldname.slice(0, -2) : part.fieldname;
      if (part.valueTruncated) throw bad(`The form field \`${name}\` is too long.`, 'Keep each field under 64 KiB (a prompt of a few sentences).', name);
      const value = typeof part.value === 'string' ? part.value : JSON.stringify(part.value);
      form.fields.set(name, [...(form.fields.get(name) ?? []), value]);
    }
  } catch (e) {
    throw formError(e, maxBytes);
  }
  return form;
}

/** The form as engine.audio.transcriptions.create's params, checked by the library's own rules; `model` checked against this server's. */
function transcriptionParams(form: Form, ctx: ServeContext): TranscriptionCreateParams & { file: Uint8Array } {
  const one = (name: string): string | undefined => {
    const v = form.fields.get(name);
    if (v && v.length > 1) throw bad(`The form field \`${name}\` is given ${v.length} times.`, 'Give it once.', name);
    return v?.[0];
  };
  for (const name of form.fields.keys()) {
    if (!FIELDS.has(name)) throw bad(`Unrecognized request argument supplied: ${name}.`, 'See OpenAI’s audio.transcriptions.create for the fields.', name);
  }
  if (!form.file) throw bad('The transcription request has no `file`.', 'Send the audio file (WAV, MP3, FLAC, OGG or WebM) in the multipart field `file`.', 'file');
  if (form.file.byteLength === 0) throw bad('The audio file is empty.', 'Record or choose a file with some sound in it.', 'file');
  const model = one('model');
  if (model !== undefined && model !== ctx.model.audioId && model !== OPENAI_WHISPER) {
    if (model === ctx.model.id) throw bad(`\`${model}\` is a text model: it cannot transcribe audio.`, `Use ${JSON.stringify(ctx.model.audioId)} (or whisper-1).`, 'model');
    throw new HearthError('NOT_FOUND', `The model \`${model}\` does not exist or you do not have access to it.`, {
      hint: `This server transcribes with ${JSON.stringify(ctx.model.audioId)} (GET /v1/models); whisper-1 names it too.`,
      details: { param: 'model', openaiCode: 'model_not_found' },
    });
  }
  const stream = one('stream');
  if (stream !== undefined && stream !== 'false') throw bad('Streamed transcriptions are not supported.', 'Leave stream out (or false): the whole transcription comes back at once.', 'stream');
  const temperature = one('temperature');
  const t = temperature === undefined ? undefined : temperature.trim() === '' ? NaN : Number(temperature);
  if (t !== undefined && Number.isNaN(t)) throw bad(`temperature must be a number from 0 to 1, got ${JSON.stringify(temperature)}.`, 'Use 0 for the most likely transcript.', 'temperature');
  const language = one('language');
  const params: TranscriptionCreateParams & { file: Uint8Array } = {
    file: form.file,
    model,
    language: language === '' ? undefined : language,
    prompt: one('prompt'),
    temperature: t,
    response_format: one('response_format') as TranscriptionResponseFormat | undefined,
    timestamp_granularities: form.fields.get('timestamp_granularities') as ('segment' | 'word')[] | undefined,
  };
  checkTranscriptionParams(params);
  return params;
}

/** Sends a transcription in its format: JSON objects as JSON, the text formats with their own Content-Type. */
function respond(reply: FastifyReply, format: TranscriptionResponseFormat, result: TranscriptionResult): string {
  if (typeof result === 'string') {
    void reply.type(TEXT_TYPES[format] ?? 'text/plain; charset=utf-8').send(result);
    return result;
  }
  void reply.send(result);
  return result.text;
}

export function audioRoutes(app: FastifyInstance, ctx: ServeContext): void {
  // its own scope: the multipart parser applies to this route only
  void app.register(async (scope) => {
    await scope.register(multipart, { throwFileSizeLimit: true });

    scope.post('/v1/audio/transcriptions', async (req, reply) => {
      let params: TranscriptionCreateParams & { file: Uint8Array };
      let filename = '';
      try {
        if (!ctx.model.audioId) {
          throw new HearthError('NOT_FOUND', 'This server has no speech-to-text model.', {
            hint: 'Start hearth serve with --audio-model <Whisper folder|owner/name> (a CTranslate2 or Hugging Face Whisper).',
            details: { param: 'model', openaiCode: 'model_not_found' },
          });
        }
        if (!req.isMultipart()) {
          throw bad(`Unsupported Content-Type: ${req.headers['content-type'] || 'none'}.`, 'Send the audio file as multipart/form-data (a `file` part and the other fields).');
        }
        const form = await readForm(req, ctx.maxAudioBytes);
        filename = form.filename;
        params = transcriptionParams(form, ctx);
      } catch (e) {
        return sendError(reply, e, ctx);
      }
      const format = params.response_format ?? 'json';
      await generate(req, reply, ctx, {
        stream: false,
        includeUsage: false,
        run: async (engine, signal) => {
          try {
            return { result: await engine.audio.transcriptions.create({ ...params, signal }) };
          } catch (e) {
            // the upload that does not decode: its error names the field
            if (isHearthError(e, 'UNSUPPORTED_FORMAT') || isHearthError(e, 'CORRUPT_FILE') || isHearthError(e, 'TRUNCATED_FILE')) {
              throw new HearthError(e.code, e.message, { details: { ...e.details, param: 'file' }, cause: e.cause });
            }
            // GPU work that failed because the device was lost: DEVICE_LOST (503), and the model reloads
            throw await gpuFailure(engine.engine.ctx, e);
          }
        },
        respond: (r, out) => respond(r, format, (out as { result: TranscriptionResult }).result),
        content: { file: filename, bytes: params.file.byteLength, response_format: format, language: params.language, prompt: params.prompt },
      });
    });
  });
}
