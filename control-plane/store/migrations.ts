// Versioned schema migrations, run at every start by Kysely's Migrator (which takes its own lock, so
// two replicas starting together on PostgreSQL do not both migrate). Never edit a shipped migration:
// add the next one.
import { type Kysely, type Migration } from 'kysely';
import { GENESIS_HASH } from './genesis.js';

const initial: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('tokens')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text')
      .addColumn('revoked_at', 'text')
      .execute();

    await db.schema
      .createTable('models')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('owner', 'text', (c) => c.notNull())
      .addColumn('tags', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('artifacts')
      .addColumn('sha256', 'text', (c) => c.primaryKey())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('signature', 'text', (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('model_versions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('model_id', 'text', (c) => c.notNull().references('models.id'))
      .addColumn('number', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('artifact_sha256', 'text', (c) => c.notNull().references('artifacts.sha256'))
      .addColumn('signature', 'text', (c) => c.notNull())
      .addColumn('metrics', 'text', (c) => c.notNull())
      .addColumn('lineage', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addUniqueConstraint('model_versions_model_number', ['model_id', 'number'])
      .execute();

    await db.schema
      .createTable('aliases')
      .addColumn('model_id', 'text', (c) => c.notNull().references('models.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('version_id', 'text', (c) => c.notNull().references('model_versions.id'))
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('updated_by', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('aliases_pk', ['model_id', 'name'])
      .execute();

    await db.schema
      .createTable('audit_events')
      .addColumn('seq', 'integer', (c) => c.primaryKey())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('actor_id', 'text', (c) => c.notNull())
      .addColumn('actor_name', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('resource', 'text', (c) => c.notNull())
      .addColumn('before_state', 'text')
      .addColumn('after_state', 'text')
      .addColumn('request_id', 'text', (c) => c.notNull())
      .addColumn('client_address', 'text', (c) => c.notNull())
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('audit_events_actor').on('audit_events').columns(['actor_id', 'seq']).execute();
    await db.schema.createIndex('audit_events_action').on('audit_events').columns(['action', 'seq']).execute();
    await db.schema.createIndex('audit_events_resource').on('audit_events').columns(['resource', 'seq']).execute();

    await db.schema
      .createTable('audit_chain_head')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
    await db.insertInto('audit_chain_head').values({ id: 1, seq: 0, hash: GENESIS_HASH }).execute();

    await db.schema
      .createTable('gateways')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('region', 'text', (c) => c.notNull())
      .addColumn('labels', 'text', (c) => c.notNull())
      .addColumn('token_id', 'text', (c) => c.notNull().references('tokens.id'))
      .addColumn('registered_at', 'text', (c) => c.notNull())
      .addColumn('last_heartbeat_at', 'text')
      .addColumn('loaded', 'text', (c) => c.notNull())
      .addColumn('health', 'text', (c) => c.notNull())
      .addColumn('health_message', 'text', (c) => c.notNull())
      .execute();
  },
};

// A version carries its serving config and drift profile (content-addressed like the model) and one
// signed statement covering all its files. Columns are added one per statement (SQLite's ALTER
// TABLE adds one at a time); versions registered before have no statement until the control plane
// signs one at its next start.
const versionBundle: Migration = {
  async up(db: Kysely<any>) {
    for (const column of ['config_sha256', 'profile_sha256', 'statement', 'statement_signature']) {
      await db.schema.alterTable('model_versions').addColumn(column, 'text').execute();
    }
    await db.schema.createIndex('model_versions_artifact').on('model_versions').columns(['model_id', 'artifact_sha256']).execute();
  },
};

// Training dispatch: jobs (a sweep is a parent job whose trials are child jobs), their attempts
// with the lease a runner holds, their log lines (bounded per job), and each model's declared data
// schema. Structured values are JSON text, as everywhere else.
const training: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('training_jobs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('model_id', 'text', (c) => c.notNull().references('models.id'))
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('trainer', 'text', (c) => c.notNull())
      .addColumn('dataset', 'text', (c) => c.notNull())
      .addColumn('parameters', 'text', (c) => c.notNull())
      .addColumn('labels', 'text', (c) => c.notNull())
      .addColumn('timeout_seconds', 'integer', (c) => c.notNull())
      .addColumn('retries', 'integer', (c) => c.notNull())
      .addColumn('max_attempts', 'integer', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('cancel_requested', 'integer', (c) => c.notNull())
      .addColumn('error', 'text')
      .addColumn('metrics', 'text', (c) => c.notNull())
      .addColumn('artifacts', 'text')
      .addColumn('version_number', 'integer')
      .addColumn('parent_version', 'integer')
      .addColumn('parent_id', 'text', (c) => c.references('training_jobs.id'))
      .addColumn('trial', 'integer')
      .addColumn('sweep', 'text')
      .addColumn('best_trial_id', 'text')
      .addColumn('validation', 'text')
      .addColumn('drifted', 'integer', (c) => c.notNull())
      .addColumn('log_seq', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text')
      .addColumn('finished_at', 'text')
      .execute();
    await db.schema.createIndex('training_jobs_queue').on('training_jobs').columns(['status', 'created_at']).execute();
    await db.schema.createIndex('training_jobs_model').on('training_jobs').columns(['model_id', 'id']).execute();
    await db.schema.createIndex('training_jobs_parent').on('training_jobs').columns(['parent_id', 'trial']).execute();

    await db.schema
      .createTable('training_attempts')
      .addColumn('job_id', 'text', (c) => c.notNull().references('training_jobs.id'))
      .addColumn('number', 'integer', (c) => c.notNull())
      .addColumn('runner_token_id', 'text', (c) => c.notNull())
      .addColumn('runner_name', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('lease_expires_at', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text', (c) => c.notNull())
      .addColumn('finished_at', 'text')
      .addColumn('error', 'text')
      .addPrimaryKeyConstraint('training_attempts_pk', ['job_id', 'number'])
      .execute();
    await db.schema.createIndex('training_attempts_lease').on('training_attempts').columns(['status', 'lease_expires_at']).execute();

    await db.schema
      .createTable('training_logs')
      .addColumn('job_id', 'text', (c) => c.notNull().references('training_jobs.id'))
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('stream', 'text', (c) => c.notNull())
      .addColumn('line', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('training_logs_pk', ['job_id', 'seq'])
      .execute();

    await db.schema
      .createTable('model_data_schemas')
      .addColumn('model_id', 'text', (c) => c.primaryKey().references('models.id'))
      .addColumn('schema', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('updated_by', 'text', (c) => c.notNull())
      .execute();
  },
};

// Rollouts (issue 14): one row per rollout with its spec as JSON and its progress in columns, so a
// restarted controller resumes from the row. `active_model` holds the model id while the rollout is
// active and NULL after: a unique column (NULLs are distinct on both dialects) makes "one active
// rollout per model" a constraint, not a race. Analysis runs keep what they measured; traffic
// windows are what gateways report, pruned by the controller.
const rollouts: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('rollouts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('model_id', 'text', (c) => c.notNull().references('models.id'))
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('active_model', 'text', (c) => c.unique())
      .addColumn('stable', 'integer', (c) => c.notNull())
      .addColumn('candidate', 'integer', (c) => c.notNull())
      .addColumn('strategy', 'text', (c) => c.notNull())
      .addColumn('spec', 'text', (c) => c.notNull())
      .addColumn('phase', 'text', (c) => c.notNull())
      .addColumn('step_index', 'integer', (c) => c.notNull())
      .addColumn('weight', 'integer', (c) => c.notNull())
      .addColumn('step_started_at', 'text', (c) => c.notNull())
      .addColumn('analysis_passed_at', 'text')
      .addColumn('next_analysis_at', 'text')
      .addColumn('switched_at', 'text')
      .addColumn('message', 'text', (c) => c.notNull())
      .addColumn('abort_reason', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('finished_at', 'text')
      .execute();
    await db.schema.createIndex('rollouts_model').on('rollouts').columns(['model', 'id']).execute();

    await db.schema
      .createTable('analysis_runs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('rollout_id', 'text', (c) => c.notNull().references('rollouts.id'))
      .addColumn('step_index', 'integer', (c) => c.notNull())
      .addColumn('window_start', 'text', (c) => c.notNull())
      .addColumn('window_end', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('measurements', 'text', (c) => c.notNull())
      .addColumn('message', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('analysis_runs_rollout').on('analysis_runs').columns(['rollout_id', 'window_end']).execute();

    await db.schema
      .createTable('traffic_windows')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('gateway', 'text', (c) => c.notNull())
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('rollout_id', 'text')
      .addColumn('window_start', 'text', (c) => c.notNull())
      .addColumn('window_end', 'text', (c) => c.notNull())
      .addColumn('received_at', 'text', (c) => c.notNull())
      .addColumn('calls', 'integer', (c) => c.notNull())
      .addColumn('errors', 'integer', (c) => c.notNull())
      .addColumn('latency', 'text', (c) => c.notNull())
      .addColumn('mirrored', 'text', (c) => c.notNull())
      .addColumn('outputs', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('traffic_windows_version').on('traffic_windows').columns(['model', 'version', 'received_at']).execute();
    await db.schema.createIndex('traffic_windows_received').on('traffic_windows').columns(['received_at']).execute();
  },
};

// Promotion gates (issue 16): holdout datasets per model (their CSV content-addressed in the
// artifact store), promotion policies kept as numbered revisions (never updated: the history is the
// rows), gate reports per evaluated version, and approvals by a second person.
const gates: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('gate_datasets')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('model_id', 'text', (c) => c.notNull().references('models.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('sha256', 'text', (c) => c.notNull())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('rows', 'integer', (c) => c.notNull())
      .addColumn('columns', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addUniqueConstraint('gate_datasets_model_name', ['model_id', 'name'])
      .execute();

    await db.schema
      .createTable('promotion_policies')
      .addColumn('model_id', 'text', (c) => c.notNull().references('models.id'))
      .addColumn('revision', 'integer', (c) => c.notNull())
      .addColumn('policy', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('promotion_policies_pk', ['model_id', 'revision'])
      .execute();

    await db.schema
      .createTable('gate_reports')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('model_id', 'text', (c) => c.notNull().references('models.id'))
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('policy_revision', 'integer')
      .addColumn('production_version', 'integer')
      .addColumn('passed', 'integer', (c) => c.notNull())
      .addColumn('checks', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('gate_reports_version').on('gate_reports').columns(['model_id', 'version', 'created_at']).execute();

    await db.schema
      .createTable('promotion_approvals')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('model_id', 'text', (c) => c.notNull().references('models.id'))
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('approver_id', 'text', (c) => c.notNull())
      .addColumn('approver_name', 'text', (c) => c.notNull())
      .addColumn('comment', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('promotion_approvals_once', ['model_id', 'version', 'approver_id'])
      .execute();
  },
};

// Alerts (issue 16): rules over fleet-wide figures, the alerts they raise, webhook targets and an
// outbox of webhook deliveries (so a restarted control plane resumes delivering). `open_fingerprint`
// holds the alert's fingerprint while it is pending or firing and NULL once resolved: a unique
// column makes "one open alert per (rule, model, version, feature)" a constraint, not a race.
// Traffic windows gain the gateways' feedback stats and drift snapshots (JSON, NULL when absent).
const alerts: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('traffic_windows').addColumn('feedback', 'text').execute();
    await db.schema.alterTable('traffic_windows').addColumn('drift', 'text').execute();

    await db.schema
      .createTable('webhooks')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('secret', 'text')
      .addColumn('routing_key', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('alert_rules')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('versions', 'text', (c) => c.notNull())
      .addColumn('metric', 'text', (c) => c.notNull())
      .addColumn('feature', 'text')
      .addColumn('comparison', 'text', (c) => c.notNull())
      .addColumn('threshold', 'double precision', (c) => c.notNull())
      .addColumn('min_count', 'integer', (c) => c.notNull())
      .addColumn('window_seconds', 'integer', (c) => c.notNull())
      .addColumn('for_seconds', 'integer', (c) => c.notNull())
      .addColumn('severity', 'text', (c) => c.notNull())
      .addColumn('webhooks', 'text', (c) => c.notNull())
      .addColumn('labels', 'text', (c) => c.notNull())
      .addColumn('silenced_until', 'text')
      .addColumn('silence_reason', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('alerts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('open_fingerprint', 'text', (c) => c.unique())
      .addColumn('rule_id', 'text', (c) => c.notNull())
      .addColumn('rule_name', 'text', (c) => c.notNull())
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('metric', 'text', (c) => c.notNull())
      .addColumn('feature', 'text')
      .addColumn('severity', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('value', 'double precision')
      .addColumn('threshold', 'double precision', (c) => c.notNull())
      .addColumn('active_since', 'text', (c) => c.notNull())
      .addColumn('fired_at', 'text')
      .addColumn('resolved_at', 'text')
      .addColumn('notified', 'integer', (c) => c.notNull())
      .addColumn('silenced_until', 'text')
      .addColumn('silence_reason', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('alerts_rule').on('alerts').columns(['rule_id', 'state']).execute();
    await db.schema.createIndex('alerts_model').on('alerts').columns(['model', 'state', 'id']).execute();

    await db.schema
      .createTable('webhook_deliveries')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('webhook_id', 'text', (c) => c.notNull().references('webhooks.id'))
      .addColumn('alert_id', 'text', (c) => c.notNull().references('alerts.id'))
      .addColumn('event', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('next_attempt_at', 'text', (c) => c.notNull())
      .addColumn('last_status', 'integer')
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('delivered_at', 'text')
      .execute();
    await db.schema.createIndex('webhook_deliveries_due').on('webhook_deliveries').columns(['state', 'next_attempt_at']).execute();
    await db.schema.createIndex('webhook_deliveries_webhook').on('webhook_deliveries').columns(['webhook_id', 'id']).execute();
  },
};

// The retraining loop (issue 16): a model's retraining policy, versioned (each set is a new
// revision; the newest one rules), and one row per run of the loop: what triggered it and where it
// is (job → version → gate report → rollout), so a restarted or new leader resumes it.
const retraining: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('retraining_policies')
      .addColumn('model_id', 'text', (c) => c.notNull().references('models.id'))
      .addColumn('revision', 'integer', (c) => c.notNull())
      .addColumn('policy', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('retraining_policies_pk', ['model_id', 'revision'])
      .execute();
    await db.schema
      .createTable('retraining_state')
      .addColumn('model_id', 'text', (c) => c.primaryKey().references('models.id'))
      .addColumn('paused', 'integer', (c) => c.notNull())
      .addColumn('paused_reason', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('updated_by', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('retraining_runs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('model_id', 'text', (c) => c.notNull().references('models.id'))
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('active_model', 'text', (c) => c.unique())
      .addColumn('policy_revision', 'integer', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('triggers', 'text', (c) => c.notNull())
      .addColumn('job_id', 'text')
      .addColumn('version', 'integer')
      .addColumn('gate_report_id', 'text')
      .addColumn('rollout_id', 'text')
      .addColumn('message', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('finished_at', 'text')
      .execute();
    await db.schema.createIndex('retraining_runs_model').on('retraining_runs').columns(['model', 'created_at']).execute();
  },
};

// Gateway access (issue 17): a token's gateway scopes (JSON list; null = its role's defaults) and
// its own rate limit (calls per second and burst; null = the gateway's default). One column per
// statement, as SQLite adds them.
const gatewayAccess: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('tokens').addColumn('scopes', 'text').execute();
    await db.schema.alterTable('tokens').addColumn('rate_limit', 'real').execute();
    await db.schema.alterTable('tokens').addColumn('rate_burst', 'integer').execute();
  },
};

// Data residency (issue 18): the regions a model may be served and trained in; null = anywhere.
const residency: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('models').addColumn('allowed_regions', 'text').execute();
  },
};

// Artifacts without a shared disk (issue 19): the PostgreSQL blob store (store/blob-pg.ts) keeps each
// artifact as it is stored on disk by the fs driver (plaintext, or the encrypted frames) cut into
// chunk rows, and the registry signing key sealed under the KEK, so replicas that share only the
// database sign with one key. On SQLite the tables exist and stay empty (the fs driver is its default).
const artifactBlobs: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('artifact_blobs')
      .addColumn('sha256', 'text', (c) => c.primaryKey())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('stored_size', 'bigint', (c) => c.notNull())
      .addColumn('chunks', 'integer', (c) => c.notNull())
      .addColumn('wrapped_key', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('artifact_chunks')
      .addColumn('sha256', 'text', (c) => c.notNull().references('artifact_blobs.sha256').onDelete('cascade'))
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('data', 'bytea', (c) => c.notNull())
      .addPrimaryKeyConstraint('artifact_chunks_pk', ['sha256', 'seq'])
      .execute();
    await db.schema
      .createTable('registry_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('sealed', 'text', (c) => c.notNull())
      .addColumn('chain', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
  },
};

// The fleet (issue 19): a model's placement, a label selector on the gateways that serve it
// (services/placement.ts); null = every gateway.
const fleet: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('models').addColumn('placement', 'text').execute();
  },
};

// The console's current drift histograms (issue 23, services/drift-histograms.ts): per gateway and
// model version, the bin counts of its latest reported drift window, overwritten by each report.
const driftHistograms: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('drift_histograms')
      .addColumn('gateway', 'text', (c) => c.notNull())
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('received_at', 'text', (c) => c.notNull())
      .addColumn('window_end', 'text', (c) => c.notNull())
      .addColumn('bins', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('drift_histograms_pk', ['gateway', 'model', 'version'])
      .execute();
    await db.schema.createIndex('drift_histograms_version').on('drift_histograms').columns(['model', 'version', 'received_at']).execute();
  },
};

// A gateway's own row by its token (services/gateways.ts ofToken): every desired-state poll and
// artifact download of a gateway token asks for it, newest registration first. Without this index
// each of those scanned the whole table (1,000 rows in docs/scaling.md's fleet).
const gatewaysByToken: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.createIndex('gateways_token').on('gateways').columns(['token_id', 'registered_at']).execute();
  },
};

// Traffic windows gain issue 22's figures: the attribution snapshot of sampled calls and the
// per-slice counts (JSON, NULL when absent: older gateways send neither).
const explainedWindows: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('traffic_windows').addColumn('attribution', 'text').execute();
    await db.schema.alterTable('traffic_windows').addColumn('slices', 'text').execute();
  },
};

// Traffic windows count the calls a gateway refused at admission for room (queue full or late, no
// decode slot) apart from its calls and errors, so overload does not fail a rollout's analysis.
// Rows before it, and windows of older gateways, refused nothing they told apart: 0.
const refusedCalls: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('traffic_windows').addColumn('refused', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  },
};

// Feedback behind a load balancer: the base URL each gateway advertises in its heartbeat
// (--advertise-url), so the desired state can list every live gateway to its peers; null: the
// gateway advertises none (it listens on a wildcard address) and no peer forwards to it.
const gatewayAdvertise: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('gateways').addColumn('advertise_url', 'text').execute();
  },
};

export const MIGRATIONS: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_version_bundle': versionBundle,
  '0003_rollouts': rollouts,
  '0004_training': training,
  '0005_gates': gates,
  '0006_alerts': alerts,
  '0007_retraining': retraining,
  '0008_gateway_access': gatewayAccess,
  '0009_residency': residency,
  '0010_artifact_blobs': artifactBlobs,
  '0011_fleet': fleet,
  '0012_drift_histograms': driftHistograms,
  '0013_gateways_token': gatewaysByToken,
  '0014_explained_windows': explainedWindows,
  '0015_refused_calls': refusedCalls,
  '0016_gateway_advertise': gatewayAdvertise,
};
