// The alert evaluator: every `intervalMs` the leader replica evaluates every alert rule on the
// fleet-wide figures (services/alerts.ts) and then delivers the webhook events that are due
// (services/webhooks.ts). Followers do nothing: the outbox and the alerts are in the database, so
// a new leader picks up where the old one stopped.
import type { Logger } from '../../lib/log.js';
import type { EvaluationSummary } from '../services/alerts.js';
import type { ControlPlaneServices } from '../services/control-plane.js';
import type { Leadership } from './leader.js';

export interface AlertEvaluatorOptions {
  /** Default 5000 ms; 0: no timer, passes run only when `tick()` is called (tests). */
  intervalMs?: number;
}

export class AlertEvaluator {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> = Promise.resolve();
  #stopped = false;
  readonly #intervalMs: number;

  constructor(
    private readonly services: ControlPlaneServices,
    private readonly leader: Leadership,
    private readonly logger: Logger,
    options: AlertEvaluatorOptions = {},
  ) {
    this.#intervalMs = options.intervalMs ?? 5000;
  }

  start(): this {
    if (this.#intervalMs <= 0) return this;
    const loop = () => {
      void this.tick().finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(loop, this.#intervalMs);
      });
    };
    loop();
    return this;
  }

  /**
   * One pass at `at` (default now), after any pass already running; undefined when this replica is
   * not the leader. Errors are logged and the next pass tries again.
   */
  tick(at: Date = new Date()): Promise<EvaluationSummary | undefined> {
    const pass = this.#running.then(async () => {
      if (this.#stopped || !this.leader.isLeader) return undefined;
      try {
        const summary = await this.services.alerts.evaluate(at);
        if (summary.fired + summary.resolved > 0) this.logger.info(summary, 'alert evaluator: alerts changed');
        await this.services.webhooks.deliverDue(at);
        return summary;
      } catch (err) {
        this.logger.error({ err }, 'alert evaluator: pass failed');
        return undefined;
      }
    });
    this.#running = pass;
    return pass;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }
}
