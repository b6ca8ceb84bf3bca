// The retraining loop's clock: every `intervalMs` the leader replica starts runs where a model's
// retraining policy sees its alerts firing and moves every active run on (services/retraining.ts).
// Errors are logged per model and the next pass tries again.
import type { Logger } from '../../lib/log.js';
import type { RetrainingService } from '../services/retraining.js';
import type { Leadership } from './leader.js';

export class RetrainingLoop {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(
    private readonly retraining: RetrainingService,
    private readonly leader: Leadership,
    private readonly logger: Logger,
    /** Default 1000 ms; 0: no timer, passes only on tick(). */
    private readonly intervalMs = 1000,
  ) {}

  start(): this {
    if (this.intervalMs <= 0) return this;
    const loop = () => {
      this.#running = this.tick().finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(loop, this.intervalMs);
      });
    };
    loop();
    return this;
  }

  async tick(): Promise<void> {
    if (!this.leader.isLeader) return;
    try {
      await this.retraining.tick(Date.now(), (model, err) => this.logger.error({ err, model }, 'retraining loop: pass failed'));
    } catch (err) {
      this.logger.error({ err }, 'retraining loop: pass failed');
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }
}
