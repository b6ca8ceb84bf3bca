// The training lease sweeper: every few seconds, attempts whose runner stopped renewing its lease
// are marked lost and their jobs re-queued (or failed once out of attempts). Like every background
// loop it runs only on the leader replica (issue 19); each expiry is also re-checked under the
// job's row lock inside the audited transaction, so even two leaders for a moment (one losing its
// lock session as the other takes it) never expire the same attempt twice.
import type { Logger } from '../../lib/log.js';
import type { Leadership } from './leader.js';
import { systemContext } from '../services/actor.js';
import type { TrainingRuns } from '../services/training-runs.js';

export class TrainingLeaseSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly runs: TrainingRuns,
    private readonly leader: Leadership,
    private readonly logger: Logger,
    /** Default: a fifth of the lease, between 0.5 and 10 s, so a lost attempt is re-queued within ~1.2 leases. */
    private readonly intervalMs = Math.min(10_000, Math.max(500, (runs.leaseSeconds * 1000) / 5)),
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running || !this.leader.isLeader) return;
      this.running = this.sweep().finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  async sweep(): Promise<number> {
    try {
      const lost = await this.runs.expireLeases(systemContext('training-leases'));
      if (lost > 0) this.logger.info({ lost }, 'training attempts lost their lease');
      return lost;
    } catch (err) {
      this.logger.warn({ err }, 'training lease sweep failed; trying again');
      return 0;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
