// One error type for everything a client, a file or a foreign library can cause (Fastify's
// lib/errors.js habit). Each code has one HTTP status and summary, defined here and nowhere else;
// the HTTP layer turns a SluiceError into `{"error": message, "code": code}` with that status (the
// Open Inference Protocol's `error` field plus the code), WebSocket error frames carry the same
// pair, the GraphQL layer puts the code in `extensions.code`. Codes are grouped by subsystem and
// never change meaning once shipped.

/**
 * Every error code, once: its HTTP status and a summary (the message when a throw site gives
 * none). A throw site's message says what exactly was wrong; the code says which kind it was.
 */
export const ERRORS = {
  // HTTP / protocol
  SLUICE_E_HTTP_NOT_FOUND: { status: 404, summary: 'no such route' },
  SLUICE_E_HTTP_METHOD_NOT_ALLOWED: { status: 405, summary: 'method not allowed on this route' },
  SLUICE_E_HTTP_BAD_JSON: { status: 400, summary: 'request body is not valid JSON' },
  SLUICE_E_HTTP_BAD_REQUEST: { status: 400, summary: 'bad request' },
  SLUICE_E_HTTP_BODY_TOO_LARGE: { status: 413, summary: 'request body is larger than the limit' },
  SLUICE_E_HTTP_UNSUPPORTED_MEDIA_TYPE: { status: 415, summary: 'unsupported content type' },
  SLUICE_E_HTTP_DRAINING: { status: 503, summary: 'the gateway is shutting down' },
  SLUICE_E_HTTP_LENGTH_REQUIRED: { status: 411, summary: 'content-length is required' },
  SLUICE_E_HTTP_CSRF: { status: 403, summary: 'cross-site request refused' },
  // GraphQL operations refused before execution (depth, aliases, tokens, cost)
  SLUICE_E_GRAPHQL_LIMIT: { status: 400, summary: 'operation exceeds a limit' },
  SLUICE_E_PROTOCOL_BAD_INPUT: { status: 400, summary: 'an input does not match the model' },
  SLUICE_E_PROTOCOL_BAD_DATATYPE: { status: 400, summary: 'an input has the wrong datatype' },
  SLUICE_E_PROTOCOL_BAD_SHAPE: { status: 400, summary: 'an input has the wrong shape' },
  SLUICE_E_PROTOCOL_BAD_DATA: { status: 400, summary: 'input data does not match its shape or datatype' },
  SLUICE_E_PROTOCOL_BAD_BINARY: { status: 400, summary: 'bad binary tensor data' },
  SLUICE_E_PROTOCOL_BAD_OUTPUT: { status: 400, summary: 'unknown or malformed requested output' },
  SLUICE_E_PROTOCOL_BAD_PARAMETER: { status: 400, summary: 'bad request parameter' },
  // WebSocket
  SLUICE_E_WS_BAD_FRAME: { status: 400, summary: 'bad WebSocket frame' },
  SLUICE_E_WS_TOO_MANY_IN_FLIGHT: { status: 429, summary: 'too many calls in flight on this connection' },
  // images
  SLUICE_E_IMAGE_BAD: { status: 400, summary: 'image cannot be decoded' },
  SLUICE_E_IMAGE_TOO_LARGE: { status: 400, summary: 'image is too large' },
  // models and routing
  SLUICE_E_MODEL_NOT_FOUND: { status: 404, summary: 'model is not loaded' },
  SLUICE_E_MODEL_VERSION_NOT_FOUND: { status: 404, summary: 'model version is not loaded' },
  SLUICE_E_MODEL_NOT_READY: { status: 503, summary: 'model is not ready' },
  SLUICE_E_MODEL_LOAD_FAILED: { status: 500, summary: 'model failed to load' },
  SLUICE_E_MODEL_RUN_FAILED: { status: 500, summary: 'model run failed' },
  SLUICE_E_MODEL_INVALID: { status: 400, summary: 'model is invalid' },
  SLUICE_E_MODEL_PROVIDER: { status: 500, summary: 'the execution provider the model requires (require_provider) could not be loaded' },
  SLUICE_E_MODEL_DEVICE: { status: 500, summary: 'the GPU the model config names (device_id) is not on this host' },
  // batching
  SLUICE_E_BATCH_QUEUE_FULL: { status: 503, summary: 'the model queue is full' },
  SLUICE_E_BATCH_QUEUE_LATE: { status: 503, summary: 'the model queue would not reach the request before its deadline' },
  SLUICE_E_BATCH_TIMEOUT: { status: 504, summary: 'the request passed its deadline' },
  SLUICE_E_BATCH_CANCELLED: { status: 499, summary: 'the client cancelled the request' },
  SLUICE_E_WORKER_CRASHED: { status: 500, summary: 'the inference worker stopped; retry' },
  // explanations (issue 22): per-feature attributions of tabular models
  SLUICE_E_EXPLAIN_UNSUPPORTED: { status: 422, summary: 'explanations need a tabular model: one 2-D FP32 input [N,F]' },
  SLUICE_E_EXPLAIN_NO_BACKGROUND: { status: 422, summary: 'the version has no reference profile of its input to draw a background sample from' },
  SLUICE_E_EXPLAIN_TOO_MANY_ROWS: { status: 413, summary: 'more rows than one explanation may take (explain.max_rows)' },
  SLUICE_E_EXPLAIN_BAD_PARAMETER: { status: 400, summary: 'bad explanation parameter' },
  SLUICE_E_EXPLAIN_QUEUE_FULL: { status: 503, summary: 'the explanation queue of the model is full' },
  // native addon
  SLUICE_E_NATIVE_UNAVAILABLE: { status: 500, summary: 'the native addon is not available' },
  SLUICE_E_NATIVE_BAD_ARGUMENT: { status: 400, summary: 'bad argument to the native addon' },
  // configuration (files, flags, environment)
  SLUICE_E_CONFIG_INVALID: { status: 400, summary: 'invalid configuration' },
  SLUICE_E_CONFIG_FILE_MISSING: { status: 400, summary: 'a configuration file is missing' },
  // auth
  SLUICE_E_AUTH_MISSING: { status: 401, summary: 'authentication required' },
  SLUICE_E_AUTH_INVALID: { status: 401, summary: 'invalid credentials' },
  SLUICE_E_AUTH_FORBIDDEN: { status: 403, summary: 'not allowed for this role' },
  // control-plane store and services
  SLUICE_E_STORE_CONFLICT: { status: 409, summary: 'conflicts with the stored state' },
  SLUICE_E_STORE_NOT_FOUND: { status: 404, summary: 'not found' },
  SLUICE_E_STORE_FAILED: { status: 500, summary: 'storage failed' },
  SLUICE_E_STORE_UNAVAILABLE: { status: 503, summary: 'the control-plane database is unreachable; try again' },
  SLUICE_E_VALIDATION: { status: 400, summary: 'invalid value' },
  SLUICE_E_ARTIFACT_INVALID: { status: 422, summary: 'artifact is invalid' },
  SLUICE_E_ARTIFACT_SIGNATURE: { status: 422, summary: 'artifact signature does not verify' },
  SLUICE_E_ARTIFACT_DUPLICATE: { status: 409, summary: 'these bytes are already a version of the model' },
  // rollouts (issue 14)
  SLUICE_E_ROLLOUT_NOT_FOUND: { status: 404, summary: 'no such rollout' },
  SLUICE_E_ROLLOUT_ACTIVE: { status: 409, summary: 'the model already has an active rollout' },
  SLUICE_E_ROLLOUT_INVALID: { status: 400, summary: 'the rollout spec is invalid' },
  SLUICE_E_ROLLOUT_STATE: { status: 409, summary: 'the rollout cannot do that in its current phase' },
  SLUICE_E_ROLLOUT_INCOMPATIBLE: { status: 422, summary: 'the candidate does not fit the stable version' },
  SLUICE_E_ROLLOUT_NOT_READY: { status: 409, summary: 'the candidate version is not ready' },
  SLUICE_E_FLEET_NOT_LOADED: { status: 503, summary: 'no gateway loaded the version' },
  SLUICE_E_TRAINING_FAILED: { status: 500, summary: 'training failed' },
  SLUICE_E_TRAINING_JOB_NOT_FOUND: { status: 404, summary: 'no such training job' },
  SLUICE_E_TRAINING_STATE: { status: 409, summary: 'the training job is not in a state that allows this' },
  SLUICE_E_TRAINING_LEASE_LOST: { status: 409, summary: 'the runner no longer holds this attempt' },
  SLUICE_E_TRAINING_DATASET_DIGEST: { status: 422, summary: "the dataset's SHA-256 does not match the job's" },
  SLUICE_E_TRAINING_DATASET_UNREADABLE: { status: 422, summary: 'the dataset cannot be read' },
  SLUICE_E_TRAINING_DATA_INVALID: { status: 422, summary: "the dataset does not satisfy the model's data schema" },
  SLUICE_E_TRAINING_TRAINER_EXIT: { status: 422, summary: 'the trainer exited with an error' },
  SLUICE_E_TRAINING_TRAINER_DIGEST: { status: 422, summary: "the trainer's digest does not match the job's" },
  SLUICE_E_TRAINING_NO_MODEL: { status: 422, summary: 'the trainer left no model.onnx' },
  SLUICE_E_TRAINING_MODEL_INVALID: { status: 422, summary: 'the trained model.onnx does not load' },
  SLUICE_E_TRAINING_SIGNATURE_MISMATCH: { status: 422, summary: "the trained model's signature differs from the production version's" },
  SLUICE_E_TRAINING_TIMED_OUT: { status: 422, summary: 'the training job ran past its timeout' },
  SLUICE_E_TRAINING_START: { status: 500, summary: 'the trainer could not be started' },
  SLUICE_E_TRAINING_EXECUTOR: { status: 500, summary: 'the training executor failed' },
  // validation gates and promotion (issue 16)
  SLUICE_E_GATE_FAILED: { status: 422, summary: 'the candidate failed its promotion gate' },
  SLUICE_E_GATE_POLICY_INVALID: { status: 400, summary: 'the promotion policy is invalid' },
  SLUICE_E_GATE_DATASET_INVALID: { status: 422, summary: 'the holdout dataset cannot be used' },
  SLUICE_E_GATE_EVALUATION_FAILED: { status: 422, summary: 'the gate could not evaluate the candidate' },
  SLUICE_E_GATE_APPROVAL_REQUIRED: { status: 409, summary: 'promotion needs an approval by a second person' },
  SLUICE_E_GATE_SELF_APPROVAL: { status: 403, summary: 'the submitter of a version cannot approve it' },
  // ground truth (issue 16)
  SLUICE_E_FEEDBACK_UNKNOWN_ID: { status: 404, summary: 'no answer with this id is waiting for feedback' },
  SLUICE_E_FEEDBACK_EXPIRED: { status: 410, summary: 'the answer is too old for feedback' },
  SLUICE_E_FEEDBACK_DUPLICATE: { status: 409, summary: 'feedback for this answer was already given' },
  SLUICE_E_FEEDBACK_BAD_VALUE: { status: 400, summary: 'the label or value does not fit the answer' },
  SLUICE_E_FEEDBACK_UNSUPPORTED: { status: 422, summary: 'this model version takes no feedback' },
  SLUICE_E_FEEDBACK_PEER_UNAVAILABLE: { status: 503, summary: 'the gateway that gave the answer did not answer' },
  // alerts (issue 16)
  SLUICE_E_ALERT_RULE_INVALID: { status: 400, summary: 'the alert rule is invalid' },
  SLUICE_E_ALERT_NOT_FOUND: { status: 404, summary: 'no such alert or alert rule' },
  SLUICE_E_WEBHOOK_INVALID: { status: 400, summary: 'the webhook is invalid' },
  // the retraining loop (issue 16)
  SLUICE_E_RETRAIN_POLICY_INVALID: { status: 400, summary: 'the retraining policy is invalid' },
  SLUICE_E_RETRAIN_STATE: { status: 409, summary: 'the retraining run cannot do that in its current state' },
  // TLS (issue 17)
  SLUICE_E_TLS_FILE_INVALID: { status: 400, summary: 'a TLS certificate, key or CA file cannot be used' },
  SLUICE_E_TLS_HANDSHAKE: { status: 502, summary: 'the TLS handshake failed: a certificate was refused' },
  SLUICE_E_TLS_RELOAD: { status: 500, summary: 'the new certificate could not be put in service; the old one still serves' },
  // audit anchoring and secrets (issue 18)
  SLUICE_E_SECRET_FILE_EXPOSED: { status: 400, summary: 'a key or secret file is readable by group or others' },
  SLUICE_E_AUDIT_CHECKPOINT_FILE: { status: 400, summary: 'the audit checkpoint file cannot be read or written' },
  SLUICE_E_MODEL_NOT_ROUTED: { status: 404, summary: 'the model has no routed version (no production alias, no active rollout)' },
  // artifacts at rest and residency (issue 18)
  SLUICE_E_RESIDENCY_INVALID: { status: 400, summary: 'the list of allowed regions is invalid' },
  SLUICE_E_RESIDENCY_REFUSED: { status: 403, summary: 'the model may not be served or trained in this region' },
  // the fleet (issue 19)
  SLUICE_E_PLACEMENT_INVALID: { status: 400, summary: 'the label selector of a placement is invalid' },
  SLUICE_E_KEK_INVALID: { status: 500, summary: 'the key-encryption key is missing, malformed, exposed or wrong' },
  SLUICE_E_ARTIFACT_TAMPERED: { status: 500, summary: 'a stored artifact failed to decrypt (altered or truncated)' },
  SLUICE_E_INTERNAL: { status: 500, summary: 'internal error' },
  SLUICE_E_CLI_UNSETTLED: { status: 500, summary: 'the command stopped before it finished' },
  // gateway access (issue 17)
  SLUICE_E_GATEWAY_SCOPE: { status: 403, summary: "the token's scopes do not cover this route" },
  SLUICE_E_GATEWAY_ORIGIN: { status: 403, summary: 'requests from this browser origin are not allowed' },
  SLUICE_E_GATEWAY_REPOSITORY_OFF: { status: 403, summary: 'the repository API is off on this gateway' },
  SLUICE_E_GATEWAY_REPOSITORY_MANAGED: { status: 403, summary: "this gateway's models come from a control plane" },
  SLUICE_E_GATEWAY_RATE_LIMITED: { status: 429, summary: "the token's rate limit is exhausted" },
  SLUICE_E_GATEWAY_INSECURE: { status: 400, summary: 'refusing to serve a non-loopback address without caller authentication' },
  SLUICE_E_GATEWAY_TOKEN_FILE: { status: 400, summary: 'the token file is invalid' },
  // budgets (issue 17)
  SLUICE_E_BUDGET_BODY_BUSY: { status: 503, summary: 'the gateway holds too many request body bytes' },
  SLUICE_E_BUDGET_BODY_TIMEOUT: { status: 408, summary: 'the request body did not arrive in time' },
  SLUICE_E_BUDGET_CONNECTIONS: { status: 503, summary: 'the gateway has too many calls and connections open' },
  SLUICE_E_BUDGET_OVERLOADED: { status: 503, summary: 'the gateway is overloaded' },
  SLUICE_E_BUDGET_DECODE_BUSY: { status: 503, summary: 'too many images are being decoded' },
  SLUICE_E_BUDGET_PIXELS: { status: 413, summary: 'the images of one request hold too many pixels' },
  // fuzzing and worker crash loops (issue 17)
  SLUICE_E_GRAPHQL_INVALID: { status: 400, summary: 'the GraphQL document does not parse or validate' },
  SLUICE_E_MODEL_UNAVAILABLE: { status: 503, summary: 'the model version is unavailable: its worker kept crashing' },
  // registry key and payload log (issue 18)
  SLUICE_E_REGISTRY_KEY_UNTRUSTED: { status: 422, summary: 'the registry key is not the pinned one and no rotation chain leads to it' },
  SLUICE_E_CACHE_UNVERIFIED: { status: 422, summary: 'a cached model version does not verify against its signed statement' },
  SLUICE_E_PAYLOAD_LOG_KEY: { status: 400, summary: 'the payload log key file is missing, too short or readable by others' },
} as const satisfies Record<string, { status: number; summary: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** The HTTP status of each code (GraphQL's `extensions.http.status`). */
export const ERROR_STATUS = Object.fromEntries(Object.entries(ERRORS).map(([code, e]) => [code, e.status])) as Record<ErrorCode, number>;

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

  constructor(code: ErrorCode, message: string = ERRORS[code].summary, options: SluiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SluiceError';
    this.code = code;
    this.status = ERRORS[code].status;
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
  return ERRORS[code].status >= 500 ? 'internal error' : 'bad request';
}
