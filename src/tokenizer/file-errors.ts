import { HearthError } from '../errors.js';

/** A tokenizer file that cannot be what it claims to be. The message names the file so users know which to replace. */
export function corruptFile(file: string, what: string, cause?: unknown): HearthError {
  const reason = cause instanceof Error ? `: ${cause.message}` : '';
  return new HearthError('CORRUPT_FILE', `${file}: ${what}${reason}.`, {
    hint: `Re-download ${file} from the model's repository.`,
    cause,
    details: { file },
  });
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
