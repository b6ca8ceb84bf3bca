// The control plane's Prometheus metrics, on a registry of its own (GET /metrics): one
// `sluice_alerts_firing` series per firing alert, read from the database at scrape time so every
// replica answers the same whichever one evaluates, and the webhook delivery attempts this replica
// made. The fleet's gauges (issue 19) are read from the database at scrape time too.
import { Counter, Gauge, Registry } from 'prom-client';
import { isStoreUnavailable } from '../store/db.js';
import type { AlertService } from './alerts.js';
import { GATEWAY_STATUSES, RECENT_SECONDS, type FleetService } from './fleet.js';
import type { VersionFigures } from './fleet-figures.js';
import type { DeliveryOutcome } from './webhooks.js';

export class ControlPlaneMetrics {
  readonly registry = new Registry();
  readonly #deliveries: Counter<'outcome'>;

  constructor(alerts: AlertService) {
    new Gauge({
      name: 'sluice_alerts_firing',
      help: 'One series with value 1 per firing alert (absent once resolved).',
      labelNames: ['rule', 'model', 'version', 'severity', 'feature'] as const,
      registers: [this.registry],
      async collect() {
        // PostgreSQL down: keep the last known series so /metrics still answers (leadership, deliveries).
        const firing = await alerts.firing().catch((err: unknown) => {
          if (isStoreUnavailable(err)) return undefined;
          throw err;
        });
        if (firing === undefined) return;
        this.reset();
        for (const a of firing) this.set({ rule: a.ruleName, model: a.model, version: String(a.version), severity: a.severity, feature: a.feature ?? '' }, 1);
      },
    });
    this.#deliveries = new Counter({
      name: 'sluice_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome: delivered, retry (failed, tried again later) or failed (gave up).',
      labelNames: ['outcome'] as const,
      registers: [this.registry],
    });
    for (const outcome of ['delivered', 'retry', 'failed'] as const) this.#deliveries.inc({ outcome }, 0);
  }

  /** `sluice_control_plane_leader`: 1 on the replica that runs the background loops, 0 on the others. */
  leadership(leader: { readonly isLeader: boolean }): void {
    this.registry.removeSingleMetric('sluice_control_plane_leader');
    new Gauge({
      name: 'sluice_control_plane_leader',
      help: '1 if this replica holds the leader lock and runs the background loops (rollouts, alerts, retraining, training leases, audit checkpoints), else 0.',
      registers: [this.registry],
      collect() {
        this.set(leader.isLeader ? 1 : 0);
      },
    });
  }

  /**
   * The fleet: gateways by status (stale after `staleMs` without a heartbeat), and per model version
   * its calls/s, error rate and p99 over the windows received in the last RECENT_SECONDS, summed
   * over every gateway. A version without windows in that range has no series.
   */
  fleet(fleet: FleetService, staleMs: number): void {
    const unlessStoreDown = <T>(p: Promise<T>): Promise<T | undefined> =>
      p.catch((err: unknown) => {
        if (isStoreUnavailable(err)) return undefined;
        throw err;
      });
    new Gauge({
      name: 'sluice_fleet_gateways',
      help: 'Registered gateways by status: connected (a heartbeat within three intervals), stale, never (registered, no heartbeat yet).',
      labelNames: ['status'] as const,
      registers: [this.registry],
      async collect() {
        const counts = await unlessStoreDown(fleet.statusCounts(staleMs));
        if (counts === undefined) return;
        for (const status of GATEWAY_STATUSES) this.set({ status }, counts[status]);
      },
    });
    // The four per-version gauges come from one query: prom-client starts every collect() of a
    // scrape in one synchronous pass, so the first starts the query and the others share it; it is
    // forgotten before the next scrape.
    let shared: Promise<Map<string, VersionFigures[]> | undefined> | undefined;
    const recent = () => {
      if (shared === undefined) {
        shared = unlessStoreDown(fleet.recentWindows(RECENT_SECONDS));
        setImmediate(() => (shared = undefined));
      }
      return shared;
    };
    const perVersion = (name: string, help: string, value: (f: VersionFigures) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames: ['model', 'version'] as const,
        registers: [this.registry],
        async collect() {
          const figures = await recent();
          if (figures === undefined) return;
          this.reset();
          for (const [model, versions] of figures) {
            for (const f of versions) {
              const v = value(f);
              if (v !== null) this.set({ model, version: String(f.version) }, v);
            }
          }
        },
      });
    perVersion('sluice_fleet_version_calls_per_second', `Calls per second a model version answered, summed over the fleet, over the last ${RECENT_SECONDS} s of reported windows.`, (f) => f.calls / RECENT_SECONDS);
    perVersion('sluice_fleet_version_error_rate', `Errors / calls of a model version over the fleet, last ${RECENT_SECONDS} s (no series without calls).`, (f) => f.errorRate);
    perVersion('sluice_fleet_version_p99_ms', `Upper bound (ms) of the latency bucket holding a model version's fleet-wide 99th percentile, last ${RECENT_SECONDS} s.`, (f) => f.p99Ms);
    perVersion('sluice_fleet_version_gateways', `Gateways that reported windows of a model version in the last ${RECENT_SECONDS} s.`, (f) => f.gateways);
  }

  delivery(outcome: DeliveryOutcome): void {
    this.#deliveries.inc({ outcome });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
