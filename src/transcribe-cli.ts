/**
 * `hearth transcribe FILE... [--model DIR|URL|owner/name] [--language xx] [--prompt TEXT]
 *  [--temperature T] [--format json|text|verbose_json|srt|vtt]`: speech to text with a local
 * Whisper model (default: the tiny.en that scripts/fetch-models.sh fetches). Segments are printed
 * as each 30 s window finishes (text format), or the whole response in the chosen format.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createTranscriber } from './node.js';
import { HearthError } from './errors.js';
import type { TranscriptionResponseFormat } from './api/audio.js';

export const TRANSCRIBE_USAGE = `Usage:
  hearth transcribe FILE... [--model <dir|url|owner/name>] [--language xx] [--prompt TEXT]
                    [--temperature T] [--format json|text|verbose_json|srt|vtt]

  FILE                   WAV, MP3, FLAC, OGG (Vorbis/Opus) or WebM audio
  --model M              a Whisper model: CTranslate2 (faster-whisper) model.bin or Hugging Face
                         safetensors, with tokenizer.json (default: $HEARTH_MODELS/whisper-tiny.en)
  --language xx          the audio's language (multilingual models detect it when absent)
  --prompt TEXT          text the audio follows (names, spellings)
  --temperature T        0 = greedy (default)
  --format F             text (default: segments as they are ready), json, verbose_json, srt, vtt
`;

export function defaultWhisperModel(env = process.env): string {
  return join(env.HEARTH_MODELS || join(env.HOME || homedir(), '.cache', 'hearth', 'models'), 'whisper-tiny.en');
}

export async function transcribeMain(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        model: { type: 'string' },
        language: { type: 'string' },
        prompt: { type: 'string' },
        temperature: { type: 'string' },
        format: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new HearthError('INVALID_ARGUMENT', (e as Error).message, { hint: TRANSCRIBE_USAGE });
  }
  const { values: v, positionals: files } = parsed;
  if (v.help) {
    out(TRANSCRIBE_USAGE);
    return 0;
  }
  if (files.length === 0) throw new HearthError('INVALID_ARGUMENT', 'hearth transcribe needs an audio file.', { hint: 'hearth transcribe speech.wav' });
  const temperature = v.temperature === undefined ? undefined : Number(v.temperature);
  const format = (v.format ?? 'text') as TranscriptionResponseFormat;
  const audio = await createTranscriber({ model: v.model ?? defaultWhisperModel() });
  try {
    for (const f of files) {
      const file = await readFile(f).catch((e: unknown) => {
        throw new HearthError('MISSING_FILE', `Cannot read ${f}: ${(e as Error).message}.`, { hint: 'Check the path.' });
      });
      const stream = format === 'text';
      const r = await audio.transcriptions.create({
        file,
        language: v.language,
        prompt: v.prompt,
        temperature,
        response_format: format,
        onSegment: stream ? (s) => out(`${s.text.trim()}\n`) : undefined,
      });
      if (!stream) out(typeof r === 'string' ? r : `${JSON.stringify(r, null, 2)}\n`);
    }
  } finally {
    await audio.unload();
  }
  return 0;
}
