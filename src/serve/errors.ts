/**
 * Errors as OpenAI's API answers them: an HTTP status and `{ error: { message, type, param, code } }`.
 * Every failure in the server is a HearthError first (typed, with a hint); this is its HTTP face.
 */
import { HearthError, type HearthErrorCode } from '../errors.js';

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

interface Mapping {
  status: number;
  type: string;
  /** OpenAI's `code` where OpenAI has one for this case; else the Hearth code in lower case. */
  code?: string;
}

const MAP: Partial<Record<HearthErrorCode, Mapping>> = {
  INVALID_ARGUMENT: { status: 400, type: 'invalid_request_error' },
  EMPTY_PROMPT: { status: 400, type: 'invalid_request_error' },
  CONTEXT_OVERFLOW: { status: 400, type: 'invalid_request_error', code: 'context_length_exceeded' },
  SESSION_MODEL_MISMATCH: { status: 400, type: 'invalid_request_error' },
  SESSION_CORRUPT: { status: 400, type: 'invalid_request_error' },
  // in the server these come only from a request's own bytes (an uploaded audio file): models are
  // loaded before serving, and a reload's failure reaches clients as ENGINE_UNLOADED
  UNSUPPORTED_FORMAT: { status: 400, type: 'invalid_request_error', code: 'invalid_value' },
  CORRUPT_FILE: { status: 400, type: 'invalid_request_error', code: 'invalid_value' },
  TRUNCATED_FILE: { status: 400, type: 'invalid_request_error', code: 'invalid_value' },
  UNAUTHORIZED: { status: 401, type: 'invalid_request_error', code: 'invalid_api_key' },
  NOT_FOUND: { status: 404, type: 'invalid_request_error' },
  SESSION_NOT_FOUND: { status: 404, type: 'invalid_request_error' },
  PAYLOAD_TOO_LARGE: { status: 413, type: 'invalid_request_error', code: 'request_too_large' },
  QUEUE_FULL: { status: 429, type: 'requests', code: 'rate_limit_exceeded' },
  DEVICE_LOST: { status: 503, type: 'server_error', code: 'device_lost' },
  ENGINE_UNLOADED: { status: 503, type: 'server_error', code: 'model_loading' },
  ABORTED: { status: 503, type: 'server_error', code: 'aborted' },
  QUOTA_EXCEEDED: { status: 507, type: 'server_error', code: 'insufficient_storage' },
};

/** The HTTP status and OpenAI-shaped body of a failure; anything not a HearthError is a 500 that reveals nothing. */
export function toOpenAIError(e: unknown): { status: number; body: OpenAIErrorBody; error: HearthError } {
  const he = e instanceof HearthError ? e : new HearthError('INTERNAL', 'The server had an error while processing your request.', { hint: 'Retry; if it keeps happening, look at the server log.', cause: e });
  const m = MAP[he.code] ?? { status: 500, type: 'server_error' };
  const param = he.details?.param;
  // a case-specific OpenAI code (model_not_found, unknown_url) rides in details.openaiCode
  const special = he.details?.openaiCode;
  return {
    status: m.status,
    error: he,
    body: { error: { message: he.message, type: m.type, param: typeof param === 'string' ? param : null, code: typeof special === 'string' ? special : (m.code ?? he.code.toLowerCase()) } },
  };
}
