// Row types of the control plane's tables, as both dialects return them. Times are ISO-8601 UTC
// strings and structured values are JSON text in both dialects, so that what the audit chain
// hashes reads back byte for byte the same on SQLite and PostgreSQL.
import type { ColumnType } from 'kysely';

/** PostgreSQL returns BIGINT as a string; SQLite as a number. Services read them through `Number()`. */
type BigNumber = ColumnType<number | string, number, number>;

export interface TokenTable {
  id: string;
  name: string;
  role: string;
  secret_hash: string;
  created_at: string;
  created_by: string | null;
  revoked_at: string | null;
  /** Gateway scopes as a JSON list; null: the role's defaults (0008_gateway_access). */
  scopes: string | null;
  /** Calls per second on gateways; null: the gateway's default. */
  rate_limit: number | null;
  rate_burst: number | null;
}

export interface ModelTable {
  id: string;
  name: string;
  description: string;
  owner: string;
  /** JSON object of string → string */
  tags: string;
  created_at: string;
  updated_at: string;
  /** JSON array of region names the model may be served and trained in; null: anywhere (0009_residency). */
  allowed_regions?: string | null;
  /** Label selector (services/placement.ts) of the gateways that serve the model; null: all (0011_fleet). */
  placement?: string | null;
}

export interface ArtifactTable {
  sha256: string;
  size: BigNumber;
  /** base64 Ed25519 signature over `artifactSignedMessage(sha256)` */
  signature: string;
  key_id: string;
  created_at: string;
}

export interface ModelVersionTable {
  id: string;
  model_id: string;
  number: number;
  status: string;
  artifact_sha256: string;
  /** JSON TensorSignature */
  signature: string;
  /** JSON object of metric name → number */
  metrics: string;
  /** JSON Lineage */
  lineage: string;
  description: string;
  created_at: string;
  created_by: string;
  /** The serving config (config.json) and drift profile, content-addressed in `artifacts`. */
  config_sha256: string | null;
  profile_sha256: string | null;
  /** base64 in-toto statement over the version's files, and its base64 signature (lib/artifact-signature.ts). */
  statement: string | null;
  statement_signature: string | null;
}

export interface AliasTable {
  model_id: string;
  name: string;
  version_id: string;
  updated_at: string;
  updated_by: string;
}

export interface AuditEventTable {
  seq: number;
  at: string;
  actor_id: string;
  actor_name: string;
  role: string;
  action: string;
  resource: string;
  /** JSON text or null */
  before_state: string | null;
  after_state: string | null;
  request_id: string;
  client_address: string;
  outcome: string;
  reason: string | null;
  prev_hash: string;
  hash: string;
}

/** One row (id = 1): the newest event of the chain. Locking it serializes appends. */
export interface AuditChainHeadTable {
  id: number;
  seq: number;
  hash: string;
}

export interface GatewayTable {
  id: string;
  name: string;
  region: string;
  /** JSON object of string → string */
  labels: string;
  token_id: string;
  registered_at: string;
  last_heartbeat_at: string | null;
  /** JSON LoadedVersion[] */
  loaded: string;
  health: string;
  health_message: string;
  /** The base URL peers reach it at (--advertise-url); null: none (0016_gateway_advertise). */
  advertise_url: string | null;
}

export interface TrainingJobTable {
  id: string;
  model_id: string;
  /** queued | running | succeeded | failed | cancelled | timed_out */
  status: string;
  /** JSON TrainerSpec */
  trainer: string;
  /** JSON { url, sha256 } */
  dataset: string;
  /** JSON object */
  parameters: string;
  /** JSON string[] */
  labels: string;
  timeout_seconds: number;
  retries: number;
  /** Attempts allowed before the job fails (retries + 1, raised again by a retry). */
  max_attempts: number;
  attempts: number;
  /** 1 once a cancel was asked of a running job; the runner sees it on its next heartbeat. */
  cancel_requested: number;
  /** JSON { code, message, details } or null */
  error: string | null;
  /** JSON object of metric name → number */
  metrics: string;
  /** JSON { model, profile, trainerDigest } (digests) once an attempt delivered them */
  artifacts: string | null;
  version_number: number | null;
  /** The production version when the job was submitted (the version it retrains), if any. */
  parent_version: number | null;
  /** The sweep a trial belongs to. */
  parent_id: string | null;
  /** The trial's index within its sweep. */
  trial: number | null;
  /** JSON SweepPlan on a sweep's parent job */
  sweep: string | null;
  best_trial_id: string | null;
  /** JSON DataValidationReport */
  validation: string | null;
  drifted: number;
  /** The last log line's seq (lines are numbered per job from 1). */
  log_seq: number;
  created_at: string;
  created_by: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface TrainingAttemptTable {
  job_id: string;
  number: number;
  runner_token_id: string;
  runner_name: string;
  /** running | succeeded | failed | cancelled | timed_out | lost */
  status: string;
  lease_expires_at: string;
  started_at: string;
  finished_at: string | null;
  error: string | null;
}

export interface TrainingLogTable {
  job_id: string;
  seq: number;
  attempt: number;
  at: string;
  stream: string;
  line: string;
}

export interface ModelDataSchemaTable {
  model_id: string;
  /** JSON DataSchema */
  schema: string;
  updated_at: string;
  updated_by: string;
}

/** A rollout (issue 14): the spec as given, the progress as the controller keeps it. */
export interface RolloutTable {
  id: string;
  model_id: string;
  model: string;
  /** The model id while the rollout is active, NULL once it ended (unique: one active rollout per model). */
  active_model: string | null;
  stable: number;
  candidate: number;
  /** CANARY, BLUE_GREEN, AB or SHADOW */
  strategy: string;
  /** JSON RolloutSpec: steps, analysis, options */
  spec: string;
  phase: string;
  step_index: number;
  /** Percent of the model's calls the candidate answers. */
  weight: number;
  step_started_at: string;
  /** When the analysis last reached its required count of successful runs (blue-green auto-promotion). */
  analysis_passed_at: string | null;
  next_analysis_at: string | null;
  /** Blue-green: when traffic switched to the candidate (the scale-down delay runs from here). */
  switched_at: string | null;
  message: string;
  abort_reason: string | null;
  created_at: string;
  created_by: string;
  updated_at: string;
  finished_at: string | null;
}

export interface AnalysisRunTable {
  id: string;
  rollout_id: string;
  step_index: number;
  window_start: string;
  window_end: string;
  /** SUCCESSFUL, FAILED or INCONCLUSIVE */
  status: string;
  /** JSON AnalysisMeasurements */
  measurements: string;
  message: string;
}

/** One gateway's figures for one model version over one window (lib/sync-wire.ts WireTrafficWindow). */
export interface TrafficWindowTable {
  id: string;
  gateway: string;
  model: string;
  version: number;
  rollout_id: string | null;
  window_start: string;
  window_end: string;
  received_at: string;
  calls: number;
  errors: number;
  /** Client calls refused at admission for room, not in calls (0015_refused_calls; 0 before it). */
  refused: number;
  /** JSON number[] per LATENCY_BUCKETS_MS + overflow */
  latency: string;
  /** JSON WireMirrorStats */
  mirrored: string;
  /** JSON WireOutputHistogram[] */
  outputs: string;
  /** JSON WireFeedbackStats; NULL: no feedback in the window (issue 16). */
  feedback: string | null;
  /** JSON WireDriftSnapshot[]; NULL: no drift profile (issue 16). */
  drift: string | null;
  /** JSON WireAttributionSnapshot; NULL: none carried (issue 22, 0012_explained_windows). */
  attribution: string | null;
  /** JSON WireSliceStats[]; NULL: none carried (issue 22). */
  slices: string | null;
}

/** A webhook target of alert notifications (issue 16). */
export interface WebhookTable {
  id: string;
  name: string;
  url: string;
  /** generic, slack or pagerduty */
  kind: string;
  /** HMAC-SHA256 key of the X-Sluice-Signature header; never returned. */
  secret: string | null;
  /** PagerDuty Events v2 routing key (pagerduty only). */
  routing_key: string | null;
  created_at: string;
  created_by: string;
}

/** An alert rule over fleet-wide figures (issue 16). */
export interface AlertRuleTable {
  id: string;
  name: string;
  model: string;
  /** An alias name, a version number as text, or `*` (every version with figures). */
  versions: string;
  metric: string;
  /** drift_psi: a feature name or `*`; NULL for other metrics. */
  feature: string | null;
  /** `>` or `<` */
  comparison: string;
  threshold: number;
  /** Fewest calls (error_rate, latency_p99_ms) or feedback rows (accuracy, mae) a figure needs. */
  min_count: number;
  window_seconds: number;
  for_seconds: number;
  severity: string;
  /** JSON string[] of webhook ids */
  webhooks: string;
  /** JSON Record<string, string> */
  labels: string;
  silenced_until: string | null;
  silence_reason: string | null;
  created_at: string;
  created_by: string;
  updated_at: string;
}

/** An alert: pending, firing or resolved (services/lifecycle.ts Alert). */
export interface AlertTable {
  id: string;
  /** rule id, model, version and feature: what makes two alerts the same. */
  fingerprint: string;
  /** The fingerprint while pending or firing, NULL once resolved (unique: one open alert per fingerprint). */
  open_fingerprint: string | null;
  rule_id: string;
  rule_name: string;
  model: string;
  version: number;
  metric: string;
  feature: string | null;
  severity: string;
  state: string;
  value: number | null;
  threshold: number;
  active_since: string;
  fired_at: string | null;
  resolved_at: string | null;
  /** 1 once its firing event went into the outbox (its resolved event follows only then). */
  notified: number;
  silenced_until: string | null;
  silence_reason: string | null;
  updated_at: string;
}

/** The webhook outbox: one event (firing or resolved) for one webhook, delivered with retries. */
export interface WebhookDeliveryTable {
  id: string;
  webhook_id: string;
  alert_id: string;
  /** firing or resolved */
  event: string;
  /** The JSON body as it is sent. */
  body: string;
  /** pending, delivered or failed */
  state: string;
  attempts: number;
  next_attempt_at: string;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

/** A holdout CSV registered for a model's promotion gates; its bytes are the artifact `sha256`. */
export interface GateDatasetTable {
  id: string;
  model_id: string;
  name: string;
  sha256: string;
  size: BigNumber;
  rows: number;
  /** JSON HoldoutColumn[] */
  columns: string;
  created_at: string;
  created_by: string;
}

/** One revision of a model's promotion policy (rows are never updated). */
export interface PromotionPolicyTable {
  model_id: string;
  revision: number;
  /** JSON PromotionPolicy */
  policy: string;
  created_at: string;
  created_by: string;
}

export interface GateReportTable {
  id: string;
  model_id: string;
  version: number;
  policy_revision: number | null;
  /** The production version the candidate was compared with (null: none). */
  production_version: number | null;
  /** 1 passed, 0 failed */
  passed: number;
  /** JSON GateCheck[] */
  checks: string;
  created_at: string;
  created_by: string;
}

export interface PromotionApprovalTable {
  id: string;
  model_id: string;
  version: number;
  approver_id: string;
  approver_name: string;
  comment: string;
  created_at: string;
}

export interface Database {
  tokens: TokenTable;
  models: ModelTable;
  artifacts: ArtifactTable;
  model_versions: ModelVersionTable;
  aliases: AliasTable;
  audit_events: AuditEventTable;
  audit_chain_head: AuditChainHeadTable;
  gateways: GatewayTable;
  training_jobs: TrainingJobTable;
  training_attempts: TrainingAttemptTable;
  training_logs: TrainingLogTable;
  model_data_schemas: ModelDataSchemaTable;
  rollouts: RolloutTable;
  analysis_runs: AnalysisRunTable;
  traffic_windows: TrafficWindowTable;
  gate_datasets: GateDatasetTable;
  promotion_policies: PromotionPolicyTable;
  gate_reports: GateReportTable;
  promotion_approvals: PromotionApprovalTable;
  webhooks: WebhookTable;
  alert_rules: AlertRuleTable;
  alerts: AlertTable;
  webhook_deliveries: WebhookDeliveryTable;
  retraining_policies: RetrainingPolicyTable;
  retraining_state: RetrainingStateTable;
  retraining_runs: RetrainingRunTable;
  artifact_blobs: ArtifactBlobTable;
  artifact_chunks: ArtifactChunkTable;
  registry_keys: RegistryKeyTable;
  drift_histograms: DriftHistogramTable;
}

/** A gateway's latest drift window bins of one model version (0012_drift_histograms). */
export interface DriftHistogramTable {
  gateway: string;
  model: string;
  version: number;
  received_at: string;
  window_end: string;
  /** JSON WireDriftBins[] */
  bins: string;
}

/** An artifact in the PostgreSQL blob store (0010_artifact_blobs): what the fs driver keeps as a file. */
export interface ArtifactBlobTable {
  sha256: string;
  /** Plaintext bytes (what the digest covers). */
  size: BigNumber;
  /** Stored bytes: the plaintext, or the header and sealed frames. */
  stored_size: BigNumber;
  chunks: number;
  /** JSON WrappedKey (the data key under the KEK); null: stored as plaintext. */
  wrapped_key: string | null;
  created_at: string;
}

export interface ArtifactChunkTable {
  sha256: string;
  seq: number;
  data: Buffer;
}

/** The registry signing key sealed under the KEK, shared by replicas (one row, id 'registry'). */
export interface RegistryKeyTable {
  id: string;
  key_id: string;
  /** JSON {kek, wrapped}: the PKCS#8 PEM wrapped by the KEK. */
  sealed: string;
  /** JSON array of rotation statements (compact JWS), oldest first. */
  chain: string;
  updated_at: string;
}

/** A revision of a model's retraining policy (issue 16); the newest revision rules. */
export interface RetrainingPolicyTable {
  model_id: string;
  revision: number;
  /** JSON RetrainingPolicy */
  policy: string;
  created_at: string;
  created_by: string;
}

/** Whether a person paused a model's retraining loop. */
export interface RetrainingStateTable {
  model_id: string;
  paused: number;
  paused_reason: string | null;
  updated_at: string;
  updated_by: string;
}

/** One run of the retraining loop: trigger → job → version → gate report → rollout. */
export interface RetrainingRunTable {
  id: string;
  model_id: string;
  model: string;
  /** The model id while the run is active, NULL after: at most one active run per model. */
  active_model: string | null;
  policy_revision: number;
  state: string;
  /** JSON: the firing alerts that started the run. */
  triggers: string;
  job_id: string | null;
  version: number | null;
  gate_report_id: string | null;
  rollout_id: string | null;
  message: string;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}
