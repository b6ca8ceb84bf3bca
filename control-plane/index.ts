// The control plane: GraphQL registry, tokens and roles, hash-chained audit log and the control-plane
// side of gateway sync, over SQLite or PostgreSQL.
import type { KekProvider } from './services/artifact-crypto.js';
import type { ArtifactStoreKind } from './store/blob-store.js';
import { join } from 'node:path';
import type { Logger } from '../lib/log.js';
import type { RunningServer } from '../lib/server.js';
import type { ServerTlsFiles } from '../lib/tls.js';
import { DEFAULT_GRAPHQL_LIMITS, type GraphQLLimits } from './plugins/use-armor.js';
import { AlertEvaluator } from './loops/alert-evaluator.js';
import { AuditCheckpointLoop } from './loops/audit-checkpoints.js';
import { RetrainingLoop } from './loops/retraining-loop.js';
import { AdvisoryLockLeader, SoleLeader } from './loops/leader.js';
import { PostgresChangeFeed } from './loops/change-feed.js';
import { RolloutController } from './loops/rollout-controller.js';
import { createGraphQL } from './server/graphql.js';
import { listen } from './server/http.js';
import { ControlPlaneServices } from './services/control-plane.js';
import { ensureLocalGatewayToken } from './services/local-gateway.js';
import type { DeliveryOptions } from './services/webhooks.js';
import { seedRepository } from './services/seed.js';
import { STALE_AFTER_INTERVALS } from './services/fleet.js';
import { TrainingLeaseSweeper } from './loops/training-leases.js';
import { ControlPlaneTracing, type ControlPlaneTracingOptions } from './tracing/tracing.js';

export interface ControlPlaneOptions {
  host: string;
  port: number;
  /** Folder for the SQLite file, artifacts and keys. */
  dataDir: string;
  /** postgres://… to use PostgreSQL instead of SQLite. */
  db?: string;
  logger: Logger;
  /**
   * First admin token at first start; default SLUICE_ADMIN_TOKEN, else one is generated and
   * returned once as `firstAdminToken` (the caller shows it). Ignored, with a warning, once tokens exist.
   */
  adminToken?: string;
  /** Largest GraphQL request body other than a multipart upload (default 1 MiB). */
  maxBodyBytes?: number;
  /** Largest artifact upload (default 1 GiB). */
  maxArtifactBytes?: number;
  /** Limits on GraphQL documents (depth, aliases, tokens, cost). */
  graphqlLimits?: Partial<GraphQLLimits>;
  /** Serve GraphiQL at GET /graphql (default: unless NODE_ENV=production). */
  graphiql?: boolean;
  /** Serve https with this certificate and key; with `clientCaFile`, every client must present a certificate from that CA. */
  tls?: ServerTlsFiles | undefined;
  /** Base URL put in download URLs (default: the Host each caller used). */
  publicUrl?: string;
  /** Heartbeat interval asked of gateways, in seconds (default 10). */
  heartbeatIntervalSeconds?: number;
  /** Ed25519 signing key file (default DATA/keys/registry-ed25519.pem); replicas must share it. */
  signingKeyFile?: string;
  /** Artifact folder (default DATA/artifacts); with the fs store replicas must share it (with postgres: staging only). */
  artifactDir?: string;
  /** `fs` (default) or `postgres`: artifacts and the sealed signing key in the database (docs/data-at-rest.md). */
  artifactStore?: ArtifactStoreKind;
  /** Encrypt artifacts and the signing key at rest (docs/data-at-rest.md); replicas must share it. */
  kek?: KekProvider;
  /** How long close() lets open requests and subscriptions finish (default 2000 ms). */
  drainTimeoutMs?: number;
  /** A model repository (`<name>/<version>/model.onnx`) to register when the registry is empty (sluice serve). */
  seedRepository?: string;
  /** Create (once) a gateway token for a gateway on this machine; its secret is returned as `localGatewayToken`. */
  localGateway?: boolean;
  /** Create (once) a runner token for a training runner on this machine; its secret is returned as `localRunnerToken`. */
  localRunner?: boolean;
  /** How long a runner's claim on a training attempt lasts without renewal, in seconds (default 30). */
  trainingLeaseSeconds?: number;
  /** How often the rollout controller runs (default 250 ms). */
  rolloutIntervalMs?: number;
  /** On PostgreSQL, how often a replica tries for the loops' leader lock (default 1000 ms). */
  leaderRetryMs?: number;
  /** On PostgreSQL, how often a replica compares the desired-state revision to catch a missed NOTIFY (default 5000 ms). */
  changeResyncMs?: number;
  /** First delay before the LISTEN connection is reopened after a loss, doubled up to 5 s (default 250 ms). */
  changeBackoffMs?: number;
  /** How often the leader evaluates alert rules and delivers webhooks (default 5000 ms; 0: only on `alertEvaluator.tick()`). */
  alertIntervalMs?: number;
  /** How often the leader starts and moves on retraining runs (default 1000 ms; 0: only on `retrainingLoop.tick()`). */
  retrainingIntervalMs?: number;
  /** Webhook delivery attempts, backoff and timeout. */
  webhookDelivery?: DeliveryOptions;
  /** Audit checkpoint signing key (default DATA/keys/audit-checkpoint-ed25519.pem, created 0600; refused when group or others can read it). */
  auditCheckpointKeyFile?: string;
  /** Append-only file of signed audit checkpoints (default DATA/audit/checkpoints.jsonl); ship it elsewhere. */
  auditCheckpointFile?: string;
  /** Checkpoint after this many new audit events (default 1000) ... */
  auditCheckpointEvents?: number;
  /** ... or this often while events arrive (default 60 s), and at shutdown. */
  auditCheckpointSeconds?: number;
  /** Repeated denials of one caller are written as one counted event per window of this length (default 60 s). */
  denialWindowSeconds?: number;
  /** Export spans of mutations, rollouts, pushes and training over OTLP/HTTP (docs/tracing.md); off when absent. */
  tracing?: ControlPlaneTracingOptions | undefined;
}

export interface ControlPlaneServer extends RunningServer {
  /** The local gateway's token secret when `localGateway` was set. */
  readonly localGatewayToken?: string;
  /** The local runner's token secret when `localRunner` was set. */
  readonly localRunnerToken?: string;
  /** The admin token generated at this first start; shown to the operator once, stored only as a hash. */
  readonly firstAdminToken?: string;
  /** The alert rules' evaluation loop (tests drive it with `tick(at)`). */
  readonly alertEvaluator: AlertEvaluator;
  readonly retrainingLoop: RetrainingLoop;
  /** Re-read the TLS files for new connections (SIGHUP); on a bad file the old certificate stays and this throws. */
  reloadTls(): void;
  /** Audit checkpoints and denial windows (tests drive it with `tick(at)`). */
  readonly auditCheckpoints: AuditCheckpointLoop;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_MAX_ARTIFACT_BYTES = 1024 * 1024 * 1024;

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlaneServer> {
  const logger = options.logger;
  const maxArtifactBytes = options.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES;
  const tracing = options.tracing === undefined ? ControlPlaneTracing.off : new ControlPlaneTracing(options.tracing);
  const services = await ControlPlaneServices.open({
    dataDir: options.dataDir,
    db: options.db,
    signingKeyFile: options.signingKeyFile,
    artifactDir: options.artifactDir,
    artifactStore: options.artifactStore,
    kek: options.kek,
    maxArtifactBytes,
    trainingLeaseSeconds: options.trainingLeaseSeconds,
    webhookDelivery: options.webhookDelivery,
    auditCheckpointKeyFile: options.auditCheckpointKeyFile,
    auditCheckpointFile: options.auditCheckpointFile,
    denialWindowMs: options.denialWindowSeconds === undefined ? undefined : options.denialWindowSeconds * 1000,
    tracing,
  });
  try {
    const adminToken = options.adminToken ?? process.env.SLUICE_ADMIN_TOKEN;
    const firstStart = (await services.tokens.count()) === 0;
    const firstAdminToken = await services.bootstrapAdmin(adminToken, logger);
    if (!firstStart && adminToken !== undefined) {
      logger.warn(
        { ignored: 'SLUICE_ADMIN_TOKEN', data: options.db === undefined ? options.dataDir : 'postgresql' },
        'SLUICE_ADMIN_TOKEN is ignored: this control plane already has tokens (it only chooses the first admin token); for a new admin token run `sluice token create --role admin` on this machine',
      );
    }
    if (options.seedRepository !== undefined) await seedRepository(services, options.seedRepository, logger);
    const localGatewayToken = options.localGateway ? await ensureLocalGatewayToken(services, join(options.dataDir, 'keys', 'local-gateway.token')) : undefined;
    const localRunnerToken = options.localRunner ? await ensureLocalGatewayToken(services, join(options.dataDir, 'keys', 'local-runner.token'), 'runner') : undefined;
    const graphiql = options.graphiql ?? process.env.NODE_ENV !== 'production';
    const graphql = createGraphQL({
      services,
      logger,
      limits: { ...DEFAULT_GRAPHQL_LIMITS, ...options.graphqlLimits },
      maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      maxArtifactBytes,
      graphiql,
      heartbeatIntervalSeconds: options.heartbeatIntervalSeconds ?? 10,
    });
    const { server, url, port, reloadTls } = await listen({ host: options.host, port: options.port, publicUrl: options.publicUrl, services, graphql, graphiql, maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, logger, tls: options.tls });
    const changeFeed = options.db === undefined ? undefined : await new PostgresChangeFeed(services, { url: options.db, logger, resyncMs: options.changeResyncMs, backoffMs: options.changeBackoffMs, name: `sluice-changes:${port}` }).start();
    if (changeFeed) services.publishChange = () => void changeFeed.publish();
    const leader = options.db === undefined ? new SoleLeader() : new AdvisoryLockLeader({ url: options.db, logger, retryMs: options.leaderRetryMs, name: `sluice-cp:${port}` }).start();
    services.metrics.leadership(leader);
    services.metrics.fleet(services.fleet, STALE_AFTER_INTERVALS * (options.heartbeatIntervalSeconds ?? 10) * 1000);
    const leases = new TrainingLeaseSweeper(services.trainingRuns, leader, logger);
    leases.start();
    const controller = new RolloutController(services, leader, logger, { intervalMs: options.rolloutIntervalMs }).start();
    const alertEvaluator = new AlertEvaluator(services, leader, logger, { intervalMs: options.alertIntervalMs }).start();
    const retrainingLoop = new RetrainingLoop(services.retraining, leader, logger, options.retrainingIntervalMs).start();
    const auditCheckpoints = new AuditCheckpointLoop(services.anchor, services.audit.denials, leader, logger, {
      everyEvents: options.auditCheckpointEvents,
      everySeconds: options.auditCheckpointSeconds,
    }).start();
    logger.info({ dialect: services.store.dialect, keyId: services.key.keyId }, 'control plane ready');
    const drainTimeoutMs = options.drainTimeoutMs ?? 2000;
    let closing: Promise<void> | undefined;
    return {
      url,
      port,
      ...(localGatewayToken !== undefined ? { localGatewayToken } : {}),
      ...(localRunnerToken !== undefined ? { localRunnerToken } : {}),
      ...(firstAdminToken !== undefined ? { firstAdminToken } : {}),
      alertEvaluator,
      retrainingLoop,
      reloadTls,
      auditCheckpoints,
      close: () =>
        (closing ??= (async () => {
          await controller.stop();
          await alertEvaluator.stop();
          await retrainingLoop.stop();
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          server.closeIdleConnections();
          // Subscriptions (SSE) never end on their own: give in-flight calls the drain time, then cut.
          const timer = setTimeout(() => server.closeAllConnections(), drainTimeoutMs);
          await closed;
          clearTimeout(timer);
          // After the last call: its denials and events are in the final checkpoint.
          await auditCheckpoints.stop();
          services.publishChange = undefined;
          await changeFeed?.close();
          await leases.stop();
          await leader.close();
          await graphql.dispose();
          await services.close();
          await tracing.close();
        })()),
    };
  } catch (err) {
    await services.close();
    await tracing.close();
    throw err;
  }
}
