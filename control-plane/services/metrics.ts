// The control plane's Prometheus metrics, on a registry of its own (GET /metrics): one
// `sluice_alerts_firing` series per firing alert, read from the database at scrape time so every
// replica answers the same whichever one evaluates, and the webhook delivery attempts this replica
// made.
import { Counter, Gauge, Registry } from 'prom-client';
import { isStoreUnavailable } from '../store/db.js';
import type { AlertService } from './alerts.js';
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

  delivery(outcome: DeliveryOutcome): void {
    this.#deliveries.inc({ outcome });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
