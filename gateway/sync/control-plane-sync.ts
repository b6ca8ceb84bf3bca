// Gateway-side sync with the control plane, as a gateway extension: register, then keep the model
// repository equal to the desired state — pushed over a subscription, polled as a fallback —
// and heartbeat what is loaded. An artifact is loaded only after its bytes match the announced
// SHA-256 AND the registry's Ed25519 signature over that digest verifies; a refused artifact is
// logged with its reason and the versions already serving keep serving. When the control plane is
// unreachable the gateway keeps its last good state and retries.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { toSluiceError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { verifyArtifactSignature } from '../../lib/artifact-signature.js';
import type { GatewayContext, GatewayExtension } from '../context.js';
import type { ModelRepository } from '../models/repository.js';
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
  /** Pin the registry key (PEM). Without it the first key seen is trusted and a later change is refused. */
  registryPublicKeyPem?: string | undefined;
}

export function controlPlaneSync(options: ControlPlaneSyncOptions): GatewayExtension {
  return (ctx: GatewayContext) => {
    const sync = new ControlPlaneSync(options, ctx.repository, ctx.options.modelRepository, ctx.logger.child({ component: 'control-plane-sync' }));
    sync.start();
    return { close: () => sync.close() };
  };
}

export class ControlPlaneSync {
  private readonly client: ControlPlaneClient;
  private readonly name: string;
  private readonly pollMs: number;
  private trustedKey: string | undefined;
  /** `model/version` → SHA-256 of what this sync loaded (or verified on disk). */
  private readonly loaded = new Map<string, string>();
  /** `model/version` → why its desired artifact was refused. */
  private readonly failures = new Map<string, string>();
  private lastRevision = '';
  private applying: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();
  private readonly timers = new Set<NodeJS.Timeout>();
  private heartbeatMs = 10_000;
  private unreachable = false;

  constructor(
    private readonly options: ControlPlaneSyncOptions,
    private readonly repository: ModelRepository,
    private readonly root: string,
    private readonly logger: Logger,
  ) {
    this.client = new ControlPlaneClient(options.url, options.token, this.abort.signal);
    this.name = options.name ?? hostname();
    this.pollMs = options.pollIntervalMs ?? 5000;
    this.trustedKey = options.registryPublicKeyPem;
  }

  start(): void {
    void this.run();
  }

  async close(): Promise<void> {
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
  }

  /** A timer that close() cancels and that never keeps the process alive. */
  private schedule(fn: () => void, ms: number): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
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

  /** States are applied one at a time, in arrival order; an unchanged revision is skipped. */
  private enqueue(state: DesiredState): void {
    this.applying = this.applying.then(() => (this.closed || state.revision === this.lastRevision ? undefined : this.apply(state))).catch((err: unknown) => this.failed(err, 'apply'));
  }

  private async apply(state: DesiredState): Promise<void> {
    if (this.trustedKey === undefined) this.trustedKey = state.signingKey.publicKeyPem;
    if (state.signingKey.publicKeyPem !== this.trustedKey) {
      this.logger.error({ keyId: state.signingKey.keyId }, 'desired state refused: the registry key changed from the trusted one');
      return;
    }
    this.heartbeatMs = Math.max(1, state.heartbeatIntervalSeconds) * 1000;
    for (const model of state.models) await this.applyModel(model);
    this.lastRevision = state.revision;
    this.logger.info({ revision: state.revision, refused: this.failures.size }, 'desired state applied');
    await this.heartbeat();
  }

  private async applyModel(model: DesiredModel): Promise<void> {
    for (const v of model.versions) await this.ensureVersion(model.name, v);
    const ready = new Set(this.repository.model(model.name)?.readyVersions ?? []);
    const routes = model.routes.filter((r) => r.weight > 0);
    if (routes.length === 0 || !routes.every((r) => ready.has(String(r.version)))) {
      this.logger.warn({ model: model.name, routes }, 'routing not changed: a routed version is not loaded');
      return;
    }
    const top = [...routes].sort((a, b) => b.weight - a.weight)[0]!;
    this.repository.setRouting(model.name, { default_version: String(top.version), weights: Object.fromEntries(routes.map((r) => [String(r.version), r.weight])) });
    // Versions nobody routes to or aliases any more are unloaded once the new routing is in place.
    const wanted = new Set(model.versions.map((v) => String(v.version)));
    for (const version of ready) {
      if (wanted.has(version)) continue;
      await this.repository.unloadVersion(model.name, version).catch((err: unknown) => this.failed(err, 'unload'));
      this.loaded.delete(`${model.name}/${version}`);
    }
  }

  private async ensureVersion(name: string, v: DesiredVersion): Promise<void> {
    const key = `${name}/${v.version}`;
    const ready = this.repository.model(name)?.readyVersions.includes(String(v.version)) ?? false;
    if (ready && (this.loaded.get(key) ?? this.diskDigest(name, v.version)) === v.sha256) {
      this.loaded.set(key, v.sha256);
      this.failures.delete(key);
      return;
    }
    try {
      if (!verifyArtifactSignature(this.trustedKey!, v.sha256, v.signature)) throw new Error('the registry signature does not verify');
      // Some slack over the announced size so that a wrong file is reported by its digest.
      const bytes = await this.client.download(v.downloadUrl, v.size + 1024 * 1024);
      const digest = createHash('sha256').update(bytes).digest('hex');
      if (digest !== v.sha256) throw new Error(`downloaded bytes have sha256 ${digest}, the registry signed ${v.sha256}`);
      const files: Record<string, Uint8Array | string> = { 'model.onnx': bytes };
      if (!existsSync(join(this.root, name, 'config.json'))) files['config.json'] = '{}\n';
      await this.repository.loadVersion(name, String(v.version), { files });
      this.loaded.set(key, v.sha256);
      this.failures.delete(key);
      this.logger.info({ model: name, version: v.version, sha256: v.sha256 }, 'model version loaded from the registry');
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.failures.set(key, reason);
      this.logger.warn({ model: name, version: v.version, sha256: v.sha256, reason }, 'artifact refused; the versions already loaded keep serving');
    }
  }

  private diskDigest(name: string, version: number): string | undefined {
    const file = join(this.root, name, String(version), 'model.onnx');
    return existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : undefined;
  }

  private async heartbeat(): Promise<void> {
    if (this.closed) return;
    const loaded = this.repository.index(true).map((e) => ({ model: e.name, version: Number(e.version), sha256: this.loaded.get(`${e.name}/${e.version}`) ?? null, state: 'ready' }));
    for (const [key, reason] of this.failures) {
      const [model, version] = key.split('/');
      loaded.push({ model: model!, version: Number(version), sha256: null, state: `refused: ${reason}`.slice(0, 32) });
    }
    const first = [...this.failures.values()][0];
    try {
      await this.client.heartbeat(this.name, loaded, this.failures.size > 0 ? 'DEGRADED' : 'HEALTHY', first ?? '');
      this.reachable();
    } catch (err) {
      this.failed(err, 'heartbeat');
    }
  }
}
