// The control plane's services wired together over one store: what the GraphQL resolvers, the
// artifact route and the CLI commands call.
import { join } from 'node:path';
import type { Logger } from '../../lib/log.js';
import { SluiceError } from '../../lib/errors.js';
import { openStore, type Store } from '../store/db.js';
import { systemContext, type CallContext } from './actor.js';
import { ArtifactStore } from './artifact-store.js';
import type { ArtifactStoreKind } from '../store/blob-store.js';
import { PgBlobStore } from '../store/blob-pg.js';
import { ResidencyService } from './residency.js';
import { PlacementService, type PlacedGateway } from './placement.js';
import { DriftHistogramService } from './drift-histograms.js';
import { FleetService } from './fleet.js';
import { existsSync } from 'node:fs';
import type { KekProvider } from './artifact-crypto.js';
import { AlertService } from './alerts.js';
import { AuditLog, type AuditVerification } from './audit.js';
import { AuditAnchor, CheckpointFile, CheckpointKey } from './audit-anchor.js';
import { computeDesiredState, type DesiredState } from './desired-state.js';
import { GateService } from './gates.js';
import { GatewayService } from './gateways.js';
import { uploadModelVersion, type VersionUpload } from './model-upload.js';
import { RegistryService, type ModelVersion } from './registry.js';
import { RetrainingService } from './retraining.js';
import { RolloutService } from './rollouts.js';
import { TrafficService } from './traffic.js';
import { RegistryKey } from './signing.js';
import { resignStaleStatements, rotateSigningKey, type KeyRotationResult } from './key-rotation.js';
import { generateSecret, TokenService } from './tokens.js';
import { TrainingService } from './training.js';
import { TrainingRuns } from './training-runs.js';
import { ControlPlaneMetrics } from './metrics.js';
import { WebhookService, type DeliveryOptions } from './webhooks.js';
import { ControlPlaneTracing } from '../tracing/tracing.js';

/** How long a shared desired state may serve gateways' polls and pushes when no change was announced (a change not announced still shows within this). */
const SHARED_STATE_MS = 1000;

export interface ServicesOptions {
  dataDir: string;
  db?: string | undefined;
  /** Ed25519 PKCS#8 PEM; default `<dataDir>/keys/registry-ed25519.pem`. Replicas on one PostgreSQL must share it. */
  signingKeyFile?: string | undefined;
  /** Content-addressed artifact folder; default `<dataDir>/artifacts`. With the fs store, replicas must share it. */
  artifactDir?: string | undefined;
  /**
   * Where artifacts live (default `fs`): `postgres` keeps them in the database (store/blob-pg.ts) and,
   * unless `signingKeyFile` is given, the signing key too, sealed under the KEK, so replicas on one
   * PostgreSQL need no shared disk (docs/data-at-rest.md).
   */
  artifactStore?: ArtifactStoreKind | undefined;
  maxArtifactBytes: number;
  /** Encrypt artifacts and the signing key at rest under data keys wrapped by this KEK (docs/data-at-rest.md). */
  kek?: KekProvider | undefined;
  /** How long a runner's claim on a training attempt lasts without a renewal (default 30 s). */
  trainingLeaseSeconds?: number | undefined;
  /** Webhook delivery retries and timeout (alerts). */
  webhookDelivery?: DeliveryOptions | undefined;
  /** Ed25519 key that signs audit checkpoints (default `<dataDir>/keys/audit-checkpoint-ed25519.pem`); 0600, never in the database. */
  auditCheckpointKeyFile?: string | undefined;
  /** Append-only file of signed audit checkpoints (default `<dataDir>/audit/checkpoints.jsonl`). */
  auditCheckpointFile?: string | undefined;
  /** How long repeated denials of one caller are counted before one event is written (default 60 s). */
  denialWindowMs?: number | undefined;
  /** Spans of mutations, rollouts, pushes and training (docs/tracing.md); default off. */
  tracing?: ControlPlaneTracing | undefined;
}

export class ControlPlaneServices {
  readonly audit: AuditLog;
  readonly tokens: TokenService;
  readonly registry: RegistryService;
  readonly gateways: GatewayService;
  readonly training: TrainingService;
  readonly trainingRuns: TrainingRuns;
  readonly traffic: TrafficService;
  readonly rollouts: RolloutService;
  readonly gates: GateService;
  readonly webhooks: WebhookService;
  readonly alerts: AlertService;
  readonly retraining: RetrainingService;
  readonly metrics: ControlPlaneMetrics;
  /** Signed checkpoints of the audit chain, outside the database. */
  readonly anchor: AuditAnchor;
  readonly residency: ResidencyService;
  readonly placement: PlacementService;
  readonly fleet: FleetService;
  readonly driftHistograms: DriftHistogramService;
  readonly tracing: ControlPlaneTracing;
  private readonly listeners = new Set<() => void>();
  /** Bumped by every fan-out: a shared desired state computed in an older generation is not reused. */
  private generation = 0;
  /** Per region and labels: the desired state being (or last) computed for gateways, and the generation and time it was started in. */
  private readonly sharedStates = new Map<string, { generation: number; startedAt: number; state: Promise<DesiredState> }>();

  private constructor(
    readonly store: Store,
    readonly key: RegistryKey,
    readonly artifacts: ArtifactStore,
    trainingLeaseSeconds = 30,
    webhookDelivery: DeliveryOptions = {},
    anchor: { key: CheckpointKey; file: CheckpointFile; denialWindowMs?: number | undefined },
    tracing: ControlPlaneTracing = ControlPlaneTracing.off,
  ) {
    this.tracing = tracing;
    this.audit = new AuditLog(store, anchor.denialWindowMs);
    this.anchor = new AuditAnchor(store, anchor.key, anchor.file);
    this.tokens = new TokenService(store, this.audit, () => this.changed());
    this.registry = new RegistryService(store, this.audit, () => this.changed());
    this.gateways = new GatewayService(store, this.audit);
    this.training = new TrainingService(store, this.audit);
    this.trainingRuns = new TrainingRuns(
      { audit: this.audit, training: this.training, registry: this.registry, artifacts, uploadVersion: (ctx, upload) => this.uploadVersion(ctx, upload) },
      trainingLeaseSeconds,
    );
    this.training.tracing = tracing;
    this.trainingRuns.tracing = tracing;
    this.training.onTrialEnded = (ctx, parentId) => this.trainingRuns.advanceSweep(ctx, parentId);
    this.traffic = new TrafficService(store, this.audit);
    this.rollouts = new RolloutService(store, this.audit, this.traffic, () => this.changed());
    this.gates = new GateService(store, this.audit, artifacts, this.registry);
    this.registry.promotionGate = this.gates;
    this.rollouts.promotionGate = this.gates;
    this.rollouts.tracing = tracing;
    this.webhooks = new WebhookService(store, this.audit, webhookDelivery);
    this.alerts = new AlertService(store, this.audit, this.traffic, this.webhooks);
    this.metrics = new ControlPlaneMetrics(this.alerts);
    this.retraining = new RetrainingService({ store, audit: this.audit, training: this.training, rollouts: this.rollouts, gates: this.gates, alerts: this.alerts, registry: this.registry });
    this.webhooks.onAttempt = (outcome) => this.metrics.delivery(outcome);
    this.residency = new ResidencyService(store, this.audit, () => this.changed());
    this.placement = new PlacementService(store, this.audit, () => this.changed());
    this.fleet = new FleetService(store);
    this.driftHistograms = new DriftHistogramService(store);
  }

  static async open(options: ServicesOptions): Promise<ControlPlaneServices> {
    const kind = options.artifactStore ?? 'fs';
    if (kind === 'postgres' && (options.db === undefined || options.db === '')) {
      throw new SluiceError('SLUICE_E_CONFIG_INVALID', 'the postgres artifact store needs a PostgreSQL database (--db postgres://…)', { details: { option: 'artifactStore' } });
    }
    const keyFile = options.signingKeyFile ?? join(options.dataDir, 'keys', 'registry-ed25519.pem');
    const sharedKey = kind === 'postgres' && options.signingKeyFile === undefined;
    if (sharedKey && !options.kek) {
      throw new SluiceError(
        'SLUICE_E_CONFIG_INVALID',
        'the postgres artifact store keeps the registry signing key in the database sealed under the KEK: give a KEK (--kek-file or SLUICE_KEK), or --signing-key-file with the key file every replica has',
        { details: { option: 'kek' } },
      );
    }
    if (!options.kek && existsSync(`${keyFile}.enc`)) {
      throw new SluiceError('SLUICE_E_KEK_INVALID', `the registry signing key ${keyFile}.enc is encrypted: start with the KEK (--kek-file or SLUICE_KEK)`);
    }
    const checkpointKey = CheckpointKey.loadOrCreate(options.auditCheckpointKeyFile ?? join(options.dataDir, 'keys', 'audit-checkpoint-ed25519.pem'));
    const checkpointFile = new CheckpointFile(options.auditCheckpointFile ?? join(options.dataDir, 'audit', 'checkpoints.jsonl'));
    const store = await openStore({ dataDir: options.dataDir, db: options.db });
    let key: RegistryKey;
    let artifacts: ArtifactStore;
    try {
      key = sharedKey ? await RegistryKey.openShared(store, options.kek!, keyFile) : await RegistryKey.open(keyFile, options.kek);
      const artifactDir = options.artifactDir ?? join(options.dataDir, 'artifacts');
      artifacts = new ArtifactStore(kind === 'postgres' ? new PgBlobStore(store, join(artifactDir, 'tmp')) : artifactDir, options.maxArtifactBytes, options.kek);
    } catch (err) {
      await store.close();
      throw err;
    }
    const services = new ControlPlaneServices(store, key, artifacts, options.trainingLeaseSeconds, options.webhookDelivery, {
      key: checkpointKey,
      file: checkpointFile,
      denialWindowMs: options.denialWindowMs,
    }, options.tracing);
    await services.registry.signUnsignedVersions((facts) => key.signVersion(facts));
    if ((await resignStaleStatements(store, key.signingKey, key.keyId)) > 0) services.changed();
    return services;
  }

  /** Subscribe to "what gateways should serve may have changed"; returns the unsubscribe. */
  onRegistryChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tell the registry-change listeners that another replica may have changed what gateways serve. */
  changed(): void {
    this.fanOut();
    this.publishChange?.();
  }

  /** Only this process's listeners (a change another replica announced). */
  fanOut(): void {
    this.generation++;
    // A key shared through the database may have been rotated by the replica that announced this:
    // take it before the listeners build desired states that name it.
    if (this.key.shared) {
      void this.key
        .refresh()
        .catch(() => false)
        .then(() => this.notifyListeners());
      return;
    }
    this.notifyListeners();
  }

  private notifyListeners(): void {
    for (const l of this.listeners) l();
  }

  /** Set on PostgreSQL: tells the other replicas (loops/change-feed.ts), after the change committed. */
  publishChange: (() => void) | undefined;

  uploadVersion(ctx: CallContext, upload: VersionUpload): Promise<ModelVersion> {
    return uploadModelVersion(this, ctx, upload);
  }

  /** A new registry signing key, chained from the current one (services/key-rotation.ts); gateways are told at once. */
  async rotateSigningKey(ctx: CallContext, overlapSeconds?: number): Promise<KeyRotationResult> {
    const rotated = await rotateSigningKey({ audit: this.audit, key: this.key }, ctx, overlapSeconds);
    this.changed();
    return rotated;
  }

  /** The chain, and the database against this control plane's checkpoint file. */
  verifyAudit(): Promise<AuditVerification> {
    return this.audit.verify({ file: this.anchor.file, publicKey: this.anchor.key.publicKey });
  }

  /** `gateway`: its state, without the models kept out of its region or not placed on it; undefined: every model. Always read afresh (the replicas' resync). */
  async desiredState(gateway?: PlacedGateway): Promise<DesiredState> {
    return computeDesiredState(this.store, await this.tokens.gatewayAccess(), gateway);
  }

  /**
   * The desired state for gateways' pushes and polls: one computation per region and labels is shared by every
   * caller until the next fan-out (a change), and for at most `SHARED_STATE_MS`. Without it, one
   * alias move made each of N subscriptions compute the state, reading every token row each time
   * (N x tokens rows per change; bench/cluster/fleet-sim.ts, docs/scaling.md). A computation
   * started after the last fan-out already sees every change that fan-out announced.
   */
  sharedDesiredState(gateway?: PlacedGateway): Promise<DesiredState> {
    // Gateways with the same region and labels are placed alike; undefined (people) sees every model.
    const key = gateway === undefined ? '' : JSON.stringify([gateway.region, Object.entries(gateway.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
    const at = performance.now();
    const hit = this.sharedStates.get(key);
    if (hit !== undefined && hit.generation === this.generation && at - hit.startedAt <= SHARED_STATE_MS) return hit.state;
    const entry = { generation: this.generation, startedAt: at, state: this.desiredState(gateway) };
    this.sharedStates.set(key, entry);
    // A failed computation is not handed to the next caller.
    entry.state.catch(() => {
      if (this.sharedStates.get(key) === entry) this.sharedStates.delete(key);
    });
    return entry.state;
  }

  /**
   * At first start (no tokens at all) create the first admin token: `adminToken` when given
   * (SLUICE_ADMIN_TOKEN), otherwise a generated one that the caller prints once. Returns the
   * generated secret, or undefined when nothing was generated.
   */
  async bootstrapAdmin(adminToken: string | undefined, logger: Logger): Promise<string | undefined> {
    if ((await this.tokens.count()) > 0) return undefined;
    if (adminToken !== undefined && adminToken.length < 16) {
      throw new SluiceError('SLUICE_E_CONFIG_INVALID', 'SLUICE_ADMIN_TOKEN must be at least 16 characters', { details: { option: 'adminToken' } });
    }
    const secret = adminToken ?? generateSecret();
    const { token } = await this.tokens.create(systemContext('bootstrap'), { name: 'admin', role: 'admin' }, secret);
    logger.info({ tokenId: token.id }, 'first admin token created');
    return adminToken === undefined ? secret : undefined;
  }

  close(): Promise<void> {
    this.listeners.clear();
    return this.store.close();
  }
}
