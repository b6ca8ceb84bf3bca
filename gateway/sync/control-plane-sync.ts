// Gateway-side sync with the control plane, as a gateway extension: register, then keep the model
// repository equal to the desired state — pushed over a subscription, polled as a fallback —
// and heartbeat what is loaded. A version is loaded only after the registry's signed statement
// verifies with the trusted key, names this model and version, and every file (model, config,
// drift profile) downloaded has the digest the statement gives it. The statement is kept beside the
// files (version-cache.ts): after a restart a folder is loaded only when it verifies again with the
// pinned registry key (registry-pin.ts), so a tampered cache is refused and fetched again. A
// desired state signed by a key the pin does not lead to is refused whole, and the heartbeat says
// why. A refused version is logged
// and reported with its whole reason, the versions already serving keep serving, and it is tried
// again with backoff (at once when a new desired state arrives). When the control plane is
// unreachable the gateway keeps its last good state and retries.
import { createHash } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { SluiceError, toSluiceError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { subjectDigest, verifyVersionStatement, type VersionFileName } from '../../lib/artifact-signature.js';
import type { LoadedVersionReport, WireGatewayAccess, WirePeer } from '../../lib/sync-wire.js';
import type { GatewayContext, GatewayExtension } from '../context.js';
import type { ModelRepository } from '../models/repository.js';
import type { TrafficWindows } from '../routing/traffic.js';
import type { ClientTlsFiles } from '../../lib/tls.js';
import { TrafficReporter } from './traffic-reporter.js';
import { PIN_FILE, RegistryPin } from './registry-pin.js';
import { profileFileName, sha256File, STATEMENT_FILE, statementEnvelope, verifyCachedVersion, versionPaths } from './version-cache.js';
import { ControlPlaneClient, type DesiredModel, type DesiredState, type DesiredVersion } from './control-plane-client.js';

export interface ControlPlaneSyncOptions {
  url: string;
  token: string;
  /** Gateway name (default: host name). */
  name?: string | undefined;
  region?: string | undefined;
  labels?: Record<string, string> | undefined;
  /** Fallback polling of the desired state (default 5000 ms); pushes usually arrive first. */
  pollIntervalMs?: number | undefined;
  /** The CA the control plane's certificate is checked against and the client certificate shown to it (mutual TLS). */
  tls?: ClientTlsFiles | undefined;
  /**
   * Pin the registry key (PEM) from the start. Without it the pin file's key is trusted, else the
   * first key seen (then persisted); a later key is accepted only through a rotation chain.
   */
  registryPublicKeyPem?: string | undefined;
  /** Where the pin is kept (default `<model repository>/.registry-key.json`). */
  pinFile?: string | undefined;
  /** Each desired state's `access` (live tokens with gateway scopes), applied as it arrives. */
  onAccess?: ((access: WireGatewayAccess) => void) | undefined;
  /** The base URL peers reach this gateway at (--advertise-url), sent with each heartbeat. */
  advertiseUrl?: string | undefined;
  /** Each desired state's `peers` (the other live gateways), applied as it arrives. */
  onPeers?: ((peers: WirePeer[]) => void) | undefined;
  /** What the heartbeat advertises (default: `advertiseUrl`); read at each beat, since the port may be bound after the sync starts. */
  advertised?: (() => string | undefined) | undefined;
}

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 60_000;
export function controlPlaneSync(options: ControlPlaneSyncOptions): GatewayExtension {
  return (ctx: GatewayContext) => {
    // The control plane rules the models (no repository API) and pushes who may call.
    ctx.access.manage();
    const onAccess = options.onAccess;
    options = { ...options, onAccess: (a) => {
      ctx.access.update(a.tokens);
      onAccess?.(a);
    } };
    // Feedback behind a load balancer: ids name this gateway, peers come with each desired state.
    const peers = ctx.inference.peers;
    peers.join(options.name ?? hostname(), options.advertiseUrl);
    ctx.inference.feedback.setOwner(peers.tag!);
    ctx.inference.feedbackForwarding.setTls(options.tls);
    const onPeers = options.onPeers;
    options = { ...options, advertised: () => peers.advertiseUrl, onPeers: (list) => {
      peers.update(list);
      onPeers?.(list);
    } };
    const sync = new ControlPlaneSync(options, ctx.repository, ctx.options.modelRepository, ctx.logger.child({ component: 'control-plane-sync' }), ctx.inference.traffic);
    // Folders on disk load only once they verify with the pin (none before the first pin: the sync
    // adopts them when the registry's statement covers their bytes).
    ctx.repository.setVersionCheck((name, version, modelDir, versionDir) => void verifyCachedVersion(modelDir, versionDir, name, version, sync.pin.keys));
    sync.start();
    return { close: () => sync.close() };
  };
}

export class ControlPlaneSync {
  private readonly client: ControlPlaneClient;
  private readonly name: string;
  private readonly pollMs: number;
  readonly pin: RegistryPin;
  /** Why the last desired state's registry key was refused (the heartbeat says it). */
  private keyRefusal: string | undefined;
  /** `model/version` → the statement signature and model digest of what this sync loaded (or verified on disk). */
  private readonly loaded = new Map<string, { signature: string; sha256: string }>();
  /** `model/version` → why its desired version was refused. */
  private readonly failures = new Map<string, string>();
  private lastRevision = '';
  private lastState: DesiredState | undefined;
  /** Retries of the refused versions since the desired state last changed (the backoff's exponent). */
  private retries = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private applying: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();
  private readonly timers = new Set<NodeJS.Timeout>();
  private heartbeatMs = 10_000;
  /** Until a desired state says otherwise. */
  private trafficMs = 5_000;
  private reportTimer: NodeJS.Timeout | undefined;
  private readonly reporter: TrafficReporter | undefined;
  private unreachable = false;

  constructor(
    private readonly options: ControlPlaneSyncOptions,
    private readonly repository: ModelRepository,
    private readonly root: string,
    private readonly logger: Logger,
    traffic?: TrafficWindows,
  ) {
    this.client = new ControlPlaneClient(options.url, options.token, this.abort.signal, options.tls);
    this.name = options.name ?? hostname();
    if (traffic !== undefined) this.reporter = new TrafficReporter({ windows: traffic, send: (w) => this.client.reportTraffic(this.name, w), logger });
    this.pollMs = options.pollIntervalMs ?? 5000;
    this.pin = RegistryPin.load(options.pinFile ?? join(root, PIN_FILE), options.registryPublicKeyPem);
  }

  start(): void {
    void this.run();
  }

  async close(): Promise<void> {
    // The last windows go out before the client stops (bounded: a gone control plane must not hold shutdown).
    if (this.reporter !== undefined && !this.closed) {
      await Promise.race([this.reporter.flush(), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    }
    this.abort.abort();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.applying;
  }

  private get closed(): boolean {
    return this.abort.signal.aborted;
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        await this.client.register(this.name, this.options.region ?? '', this.options.labels ?? {});
        this.reachable();
        break;
      } catch (err) {
        this.failed(err, 'register');
        await this.sleep(this.pollMs);
      }
    }
    if (this.closed) return;
    this.logger.info({ gateway: this.name, controlPlane: this.options.url }, 'registered with the control plane');
    this.poll();
    this.subscribe();
    const beat = () => {
      void this.heartbeat();
      this.schedule(beat, this.heartbeatMs);
    };
    this.schedule(beat, this.heartbeatMs);
    if (this.reporter !== undefined) this.scheduleReport();
  }

  /** The next traffic report, one interval from now (a report in flight schedules the next when it ends). */
  private scheduleReport(): void {
    this.reportTimer = this.schedule(() => {
      this.reportTimer = undefined;
      void this.reporter?.flush().finally(() => this.scheduleReport());
    }, this.trafficMs);
  }

  /** A timer that close() cancels and that never keeps the process alive. */
  private schedule(fn: () => void, ms: number): NodeJS.Timeout | undefined {
    if (this.closed) return undefined;
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
    return t;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.schedule(resolve, ms));
  }

  private poll(): void {
    if (this.closed) return;
    this.client.desiredState().then(
      (state) => {
        this.reachable();
        this.enqueue(state);
      },
      (err: unknown) => this.failed(err, 'poll'),
    );
    this.schedule(() => this.poll(), this.pollMs);
  }

  private subscribe(): void {
    if (this.closed) return;
    this.client
      .subscribe((state) => this.enqueue(state), this.abort.signal)
      .catch((err: unknown) => {
        if (!this.closed) this.failed(err, 'subscription');
      })
      .finally(() => {
        if (!this.closed) void this.sleep(this.pollMs).then(() => this.subscribe());
      });
  }

  private reachable(): void {
    if (this.unreachable) this.logger.info('control plane reachable again');
    this.unreachable = false;
  }

  private failed(err: unknown, step: string): void {
    const e = toSluiceError(err, 'SLUICE_E_INTERNAL', true);
    if (e.code === 'SLUICE_E_HTTP_DRAINING') {
      if (!this.unreachable) this.logger.warn({ step, reason: e.message }, 'control plane unreachable; serving the last good state');
      this.unreachable = true;
    } else {
      this.logger.warn({ step, code: e.code, reason: e.message }, 'control plane sync step failed');
    }
  }

  /**
   * States are applied one at a time, in arrival order; an unchanged revision is skipped unless
   * `retry` (the backoff timer, re-applying the last state for its refused versions).
   */
  private enqueue(state: DesiredState, retry = false): void {
    // Access is applied on arrival, not behind model downloads: a revocation must not wait for them.
    if (!retry && state.access) this.options.onAccess?.(state.access);
    // Peers are not in the revision (liveness changes with every heartbeat): every arrival counts.
    if (!retry && state.peers) this.options.onPeers?.(state.peers);
    this.applying = this.applying
      .then(async () => {
        if (this.closed || (!retry && state.revision === this.lastRevision)) return;
        if (!retry) this.retries = 0; // new inputs: a refused version is tried at once, backoff starts over
        try {
          await this.apply(state);
        } finally {
          this.scheduleRetry();
        }
      })
      .catch((err: unknown) => this.failed(err, 'apply'));
  }

  /** While some version is refused, apply the last state again after 1 s, 2 s, 4 s ... up to 60 s. */
  private scheduleRetry(): void {
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.timers.delete(this.retryTimer);
      this.retryTimer = undefined;
    }
    if (this.closed || this.failures.size === 0 || this.lastState === undefined) return;
    const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(this.retries, 16));
    this.retries++;
    const state = this.lastState;
    this.retryTimer = this.schedule(() => {
      this.retryTimer = undefined;
      this.enqueue(state, true);
    }, delay);
  }

  private async apply(state: DesiredState): Promise<void> {
    const before = this.pin.pinned?.keyId;
    try {
      if (await this.pin.accept(state.signingKey, state.signingKeyChain ?? [])) {
        this.logger.info({ keyId: state.signingKey.keyId, previous: before ?? null }, before === undefined ? 'registry key pinned on first use' : 'registry key rotated: pinned the key the chain leads to');
      }
      this.keyRefusal = undefined;
    } catch (err) {
      const e = toSluiceError(err, 'SLUICE_E_REGISTRY_KEY_UNTRUSTED', true);
      this.keyRefusal = `${e.message} (${e.code})`;
      this.logger.error({ keyId: state.signingKey.keyId, pinned: before, code: e.code, reason: e.message }, 'desired state refused: the registry key is not trusted');
      await this.heartbeat();
      return;
    }
    this.heartbeatMs = Math.max(1, state.heartbeatIntervalSeconds) * 1000;
    if (Number.isFinite(state.trafficReportIntervalMs) && state.trafficReportIntervalMs > 0) {
      const ms = Math.max(100, state.trafficReportIntervalMs);
      // A new interval applies to the report already waiting too (the first one was set before any state came).
      if (ms !== this.trafficMs && this.reportTimer !== undefined) {
        clearTimeout(this.reportTimer);
        this.timers.delete(this.reportTimer);
        this.trafficMs = ms;
        this.scheduleReport();
      }
      this.trafficMs = ms;
    }
    this.lastState = state;
    // A version no longer desired is no longer refused either.
    const desired = new Set(state.models.flatMap((m) => m.versions.map((v) => `${m.name}/${v.version}`)));
    for (const key of this.failures.keys()) if (!desired.has(key)) this.failures.delete(key);
    for (const model of state.models) await this.applyModel(model, state.signingKey.keyId);
    await this.unloadModelsNoLongerNamed(state);
    this.lastRevision = state.revision;
    this.logger.info({ revision: state.revision, refused: this.failures.size }, 'desired state applied');
    await this.heartbeat();
  }

  /**
   * A model the state no longer names (e.g. kept out of this gateway's region, issue 18) stops being
   * served: every version this sync loaded for it is unloaded, letting calls in flight finish.
   */
  private async unloadModelsNoLongerNamed(state: DesiredState): Promise<void> {
    const named = new Set(state.models.map((m) => m.name));
    for (const key of [...this.loaded.keys()]) {
      const slash = key.lastIndexOf('/');
      const [model, version] = [key.slice(0, slash), key.slice(slash + 1)];
      if (named.has(model)) continue;
      await this.repository.unloadVersion(model, version).catch((err: unknown) => this.failed(err, 'unload'));
      this.loaded.delete(key);
    }
  }

  private async applyModel(model: DesiredModel, keyId: string): Promise<void> {
    const routes = model.routes.filter((r) => r.weight > 0);
    // Serving follows aliases and rollouts only: a model with no route is closed to calls by name,
    // and a model new here stays closed until its routed versions are in, so that a version loaded
    // for an alias such as `staging` is never reached as "the newest" meanwhile.
    if (routes.length === 0 || this.repository.model(model.name) === undefined) this.repository.closeRouting(model.name);
    for (const v of model.versions) await this.ensureVersion(model.name, v, keyId);
    const ready = new Set(this.repository.model(model.name)?.readyVersions ?? []);
    if (routes.length > 0 && !routes.every((r) => ready.has(String(r.version)))) {
      this.logger.warn({ model: model.name, routes }, 'routing not changed: a routed version is not loaded');
      return;
    }
    if (routes.length > 0) {
      const top = [...routes].sort((a, b) => b.weight - a.weight)[0]!;
      // Weights and the rollout plan change in one step; the versions the state lists (a blue-green
      // rollout's idle side included) stay loaded.
      this.repository.setRouting(model.name, { default_version: String(top.version), weights: Object.fromEntries(routes.map((r) => [String(r.version), r.weight])) }, model.rollout ?? null);
    }
    // Versions nobody routes to or aliases any more are unloaded once the new routing is in place:
    // unloading lets their queued and running calls finish first (LoadedVersion.unload).
    const wanted = new Set(model.versions.map((v) => String(v.version)));
    for (const version of ready) {
      if (wanted.has(version)) continue;
      await this.repository.unloadVersion(model.name, version).catch((err: unknown) => this.failed(err, 'unload'));
      this.loaded.delete(`${model.name}/${version}`);
    }
  }

  private async ensureVersion(name: string, v: DesiredVersion, keyId: string): Promise<void> {
    const key = `${name}/${v.version}`;
    // At start the repository may still be loading its folders: what it loads there may be this version.
    await this.repository.settled(name);
    const ready = this.repository.model(name)?.readyVersions.includes(String(v.version)) ?? false;
    if (ready && this.loaded.get(key)?.signature === v.statementSignature) {
      this.failures.delete(key);
      return;
    }
    try {
      this.checkStatement(name, v, keyId);
      const versionDir = join(this.root, name, String(v.version));
      if (this.onDisk(name, v)) {
        // The folder holds exactly what the registry signed (loaded at start, or put there by hand):
        // keep the statement beside it, so the next start verifies it without the control plane.
        const tmp = join(versionDir, `${STATEMENT_FILE}.tmp-${process.pid}`);
        writeFileSync(tmp, statementEnvelope(v.statement, v.statementSignature, keyId));
        renameSync(tmp, join(versionDir, STATEMENT_FILE));
        if (!ready) await this.repository.loadVersion(name, String(v.version), { dir: versionDir });
        this.loaded.set(key, { signature: v.statementSignature, sha256: v.sha256 });
        this.failures.delete(key);
        return;
      }
      const files = await this.fetchVersion(name, v, keyId);
      await this.repository.loadVersion(name, String(v.version), { files });
      this.loaded.set(key, { signature: v.statementSignature, sha256: v.sha256 });
      this.failures.delete(key);
      this.logger.info({ model: name, version: v.version, sha256: v.sha256, files: v.files.map((f) => f.name) }, 'model version loaded from the registry');
    } catch (err) {
      const e = toSluiceError(err, 'SLUICE_E_MODEL_LOAD_FAILED', true);
      const reason = `${e.message} (${e.code})`;
      this.failures.set(key, reason);
      this.loaded.delete(key);
      this.logger.warn({ model: name, version: v.version, sha256: v.sha256, code: e.code, reason, retries: this.retries }, 'model version refused; the versions already loaded keep serving');
    }
  }

  /**
   * Verify the statement, download every file it covers and check each digest; returns the files
   * as the version folder holds them (the profile under the name its config gives it).
   */
  private async fetchVersion(name: string, v: DesiredVersion, keyId: string): Promise<Record<string, Uint8Array>> {
    const bytes = new Map<VersionFileName, Uint8Array>();
    for (const f of v.files) {
      // Some slack over the announced size so that a wrong file is reported by its digest.
      const body = await this.client.download(f.downloadUrl, f.size + 1024 * 1024);
      const digest = createHash('sha256').update(body).digest('hex');
      if (digest !== f.sha256) throw new SluiceError('SLUICE_E_ARTIFACT_SIGNATURE', `downloaded ${f.name} has sha256 ${digest}, the registry signed ${f.sha256}`);
      bytes.set(f.name, body);
    }
    const files: Record<string, Uint8Array> = { 'model.onnx': bytes.get('model.onnx')!, [STATEMENT_FILE]: Buffer.from(statementEnvelope(v.statement, v.statementSignature, keyId)) };
    const config = bytes.get('config.json');
    if (config) files['config.json'] = config;
    const profile = bytes.get('profile.json');
    if (profile) files[profileFileName(config)] = profile;
    return files;
  }

  /** The statement verifies with the pinned key, names this model, version and key, and every file announced. */
  private checkStatement(name: string, v: DesiredVersion, keyId: string): void {
    const key = this.pin.pinned;
    if (key === undefined || key.keyId !== keyId) throw new SluiceError('SLUICE_E_REGISTRY_KEY_UNTRUSTED', `the desired state's key ${keyId} is not the pinned key`);
    const statement = verifyVersionStatement(key.publicKeyPem, v.statement, v.statementSignature);
    const p = statement.predicate;
    if (p?.model !== name || p.version !== v.version || p.registryKey !== keyId) {
      throw new SluiceError('SLUICE_E_ARTIFACT_SIGNATURE', `the signed statement is for ${p?.model} version ${p?.version} (key ${p?.registryKey}), not ${name} version ${v.version} (key ${keyId})`);
    }
    if (subjectDigest(statement, 'model.onnx') !== v.sha256 || statement.subject.length !== v.files.length || !v.files.every((f) => subjectDigest(statement, f.name) === f.sha256)) {
      throw new SluiceError('SLUICE_E_ARTIFACT_SIGNATURE', `the files announced for ${name} version ${v.version} are not the ones its signed statement names`);
    }
  }

  /** True when the version folder (after a restart) already holds exactly the files the registry signed. */
  private onDisk(name: string, v: DesiredVersion): boolean {
    const modelDir = join(this.root, name);
    const paths = versionPaths(modelDir, join(modelDir, String(v.version)));
    return v.files.every((f) => {
      try {
        return sha256File(paths[f.name]) === f.sha256;
      } catch {
        return false; // missing or unreadable: fetched again
      }
    });
  }

  private async heartbeat(): Promise<void> {
    if (this.closed) return;
    const providers = new Map<string, string>();
    for (const v of this.repository.versions()) if (v.state === 'READY' && v.executionProvider !== undefined) providers.set(`${v.name}/${v.version}`, v.executionProvider);
    const loaded: LoadedVersionReport[] = this.repository.index(true).map((e) => ({ model: e.name, version: Number(e.version), sha256: this.loaded.get(`${e.name}/${e.version}`)?.sha256 ?? null, state: 'ready', executionProvider: providers.get(`${e.name}/${e.version}`) ?? null }));
    for (const [key, reason] of this.failures) {
      const at = key.lastIndexOf('/');
      loaded.push({ model: key.slice(0, at), version: Number(key.slice(at + 1)), sha256: null, state: 'failed', reason });
    }
    // A version that kept crashing its worker is loaded but not serving: reported with its reason.
    for (const e of this.repository.index()) {
      if (e.state === 'UNAVAILABLE' && e.version !== undefined) loaded.push({ model: e.name, version: Number(e.version), sha256: null, state: 'failed', reason: e.reason ?? null });
    }
    const first = this.keyRefusal ?? [...this.failures.values()][0] ?? loaded.find((l) => l.state === 'failed')?.reason ?? undefined;
    try {
      const advertised = this.options.advertised?.() ?? this.options.advertiseUrl;
      await this.client.heartbeat(this.name, loaded, first !== undefined ? 'DEGRADED' : 'HEALTHY', first ?? '', advertised);
      this.reachable();
    } catch (err) {
      this.failed(err, 'heartbeat');
    }
  }
}
