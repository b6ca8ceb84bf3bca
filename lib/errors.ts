// One error type for everything a client, a file or a foreign library can cause.
// Each code has one HTTP status, defined here and nowhere else; the HTTP layer turns a
// SluiceError into `{"error": message}` with that status, the GraphQL layer into
// `extensions.code`. Codes are grouped by subsystem and never change meaning once shipped.

export const ERROR_STATUS = {
  // HTTP / protocol
  SLUICE_E_HTTP_NOT_FOUND: 404,
  SLUICE_E_HTTP_METHOD_NOT_ALLOWED: 405,
  SLUICE_E_HTTP_BAD_JSON: 400,
  SLUICE_E_HTTP_BAD_REQUEST: 400,
  SLUICE_E_HTTP_BODY_TOO_LARGE: 413,
  SLUICE_E_HTTP_UNSUPPORTED_MEDIA_TYPE: 415,
  SLUICE_E_HTTP_DRAINING: 503,
  SLUICE_E_HTTP_LENGTH_REQUIRED: 411,
  SLUICE_E_HTTP_CSRF: 403,
  // GraphQL operations refused before execution (depth, aliases, tokens, cost)
  SLUICE_E_GRAPHQL_LIMIT: 400,
  SLUICE_E_PROTOCOL_BAD_INPUT: 400,
  SLUICE_E_PROTOCOL_BAD_DATATYPE: 400,
  SLUICE_E_PROTOCOL_BAD_SHAPE: 400,
  SLUICE_E_PROTOCOL_BAD_DATA: 400,
  SLUICE_E_PROTOCOL_BAD_BINARY: 400,
  SLUICE_E_PROTOCOL_BAD_OUTPUT: 400,
  SLUICE_E_PROTOCOL_BAD_PARAMETER: 400,
  // WebSocket
  SLUICE_E_WS_BAD_FRAME: 400,
  SLUICE_E_WS_TOO_MANY_IN_FLIGHT: 429,
  // images
  SLUICE_E_IMAGE_BAD: 400,
  SLUICE_E_IMAGE_TOO_LARGE: 400,
  // models and routing
  SLUICE_E_MODEL_NOT_FOUND: 404,
  SLUICE_E_MODEL_VERSION_NOT_FOUND: 404,
  SLUICE_E_MODEL_NOT_READY: 503,
  SLUICE_E_MODEL_LOAD_FAILED: 500,
  SLUICE_E_MODEL_RUN_FAILED: 500,
  SLUICE_E_MODEL_INVALID: 400,
  // batching
  SLUICE_E_BATCH_QUEUE_FULL: 503,
  SLUICE_E_BATCH_TIMEOUT: 504,
  SLUICE_E_BATCH_CANCELLED: 499,
  SLUICE_E_WORKER_CRASHED: 500,
  // native addon
  SLUICE_E_NATIVE_UNAVAILABLE: 500,
  SLUICE_E_NATIVE_BAD_ARGUMENT: 400,
  // configuration (files, flags, environment)
  SLUICE_E_CONFIG_INVALID: 400,
  SLUICE_E_CONFIG_FILE_MISSING: 400,
  // auth
  SLUICE_E_AUTH_MISSING: 401,
  SLUICE_E_AUTH_INVALID: 401,
  SLUICE_E_AUTH_FORBIDDEN: 403,
  // control-plane store and services
  SLUICE_E_STORE_CONFLICT: 409,
  SLUICE_E_STORE_NOT_FOUND: 404,
  SLUICE_E_STORE_FAILED: 500,
  SLUICE_E_VALIDATION: 400,
  SLUICE_E_ARTIFACT_INVALID: 422,
  SLUICE_E_ARTIFACT_SIGNATURE: 422,
  SLUICE_E_ARTIFACT_DUPLICATE: 409,
  SLUICE_E_FLEET_NOT_LOADED: 503,
  SLUICE_E_TRAINING_FAILED: 500,
  SLUICE_E_INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface SluiceErrorOptions {
  cause?: unknown;
  /** Extra machine-readable facts (field name, limit, ...) shown to clients in GraphQL extensions. */
  details?: Record<string, unknown>;
  /** Seconds a client should wait before retrying (503 answers). */
  retryAfter?: number;
}

export class SluiceError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message: string, options: SluiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SluiceError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.details = options.details;
    this.retryAfter = options.retryAfter;
  }

  toJSON(): { error: string; code: ErrorCode } {
    return { error: this.message, code: this.code };
  }
}

export function isSluiceError(err: unknown): err is SluiceError {
  return err instanceof SluiceError;
}

/**
 * Map anything thrown to a SluiceError at a boundary. A foreign error (ORT, SQL, sharp) keeps its
 * original as `cause`; its message is not shown to clients unless `exposeMessage` is set, because
 * foreign messages can carry paths, SQL or stack fragments.
 */
export function toSluiceError(
  err: unknown,
  fallback: ErrorCode = 'SLUICE_E_INTERNAL',
  exposeMessage = false,
): SluiceError {
  if (err instanceof SluiceError) return err;
  const text = err instanceof Error ? err.message : String(err);
  return new SluiceError(fallback, exposeMessage ? text : defaultMessage(fallback), { cause: err });
}

function defaultMessage(code: ErrorCode): string {
  return ERROR_STATUS[code] >= 500 ? 'internal error' : 'bad request';
}
