/**
 * Every failure Hearth reports is a HearthError with a stable `code`, a message
 * that says what was wrong, and a `hint` that says what to do about it.
 * Codes are part of the public API: callers switch on them.
 */
export type HearthErrorCode =
  | 'WEBGPU_UNAVAILABLE'
  | 'WEBGPU_LIMITS'
  | 'DEVICE_LOST'
  | 'OUT_OF_MEMORY'
  | 'BUFFER_TOO_LARGE'
  | 'SHADER_COMPILE'
  | 'INVALID_ARGUMENT'
  | 'UNSUPPORTED_ARCHITECTURE'
  | 'UNSUPPORTED_TENSOR_TYPE'
  | 'UNSUPPORTED_FORMAT'
  | 'CORRUPT_FILE'
  | 'TRUNCATED_FILE'
  | 'MISSING_FILE'
  | 'NETWORK'
  | 'INTEGRITY'
  | 'QUOTA_EXCEEDED'
  | 'CONTEXT_OVERFLOW'
  // the paged KV pool of batched decoding has no free block left (back-pressure: retry when a sequence ends)
  | 'KV_POOL_FULL'
  | 'EMPTY_PROMPT'
  | 'ABORTED'
  | 'ENGINE_UNLOADED'
  | 'WORKER_CRASHED'
  | 'SESSION_NOT_FOUND'
  | 'SESSION_MODEL_MISMATCH'
  | 'SESSION_CORRUPT'
  // hearth serve: a request refused before it reaches the engine
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'PAYLOAD_TOO_LARGE'
  | 'QUEUE_FULL'
  | 'INTERNAL';

export interface HearthErrorOptions {
  hint?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class HearthError extends Error {
  readonly code: HearthErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: HearthErrorCode, message: string, options: HearthErrorOptions = {}) {
    super(options.hint ? `${message} ${options.hint}` : message, { cause: options.cause });
    this.name = 'HearthError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** A structured-clone-safe form, for crossing a worker boundary. */
  toJSON(): SerializedHearthError {
    return { name: 'HearthError', code: this.code, message: this.message, hint: this.hint, details: this.details };
  }

  static fromJSON(s: SerializedHearthError): HearthError {
    const e = new HearthError(s.code, s.message, { details: s.details });
    // message already contains the hint; keep it verbatim
    (e as { hint: string | undefined }).hint = s.hint;
    return e;
  }
}

export interface SerializedHearthError {
  name: 'HearthError';
  code: HearthErrorCode;
  message: string;
  hint: string | undefined;
  details: Record<string, unknown> | undefined;
}

export function isHearthError(e: unknown, code?: HearthErrorCode): e is HearthError {
  return e instanceof HearthError && (code === undefined || e.code === code);
}

/** Throws INVALID_ARGUMENT unless `cond` holds. */
export function check(cond: unknown, message: string, hint?: string): asserts cond {
  if (!cond) throw new HearthError('INVALID_ARGUMENT', message, { hint });
}
