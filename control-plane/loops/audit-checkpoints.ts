// The audit checkpoint loop: on the leader replica, sign and append a checkpoint of the chain head
// once `everyEvents` events have been appended since the last one, or `everySeconds` have passed
// with any new event, and a last one at shutdown (services/audit-anchor.ts). The denial counter's
// windows close on the same clock, so a window's row lands before the checkpoint that covers it.
import type { Logger } from '../../lib/log.js';
import type { AuditAnchor } from '../services/audit-anchor.js';
import type { DenialCounter } from '../services/audit-denials.js';
import type { Leadership } from './leader.js';

export interface CheckpointSchedule {
  /** Checkpoint after this many new events (default 1000). */
  everyEvents?: number | undefined;
  /** Checkpoint at least this often while events arrive (default 60 s). */
  everySeconds?: number | undefined;
}

export class AuditCheckpointLoop {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #stopped = false;
  #lastAt = Date.now();
  readonly #everyEvents: number;
  readonly #everyMs: number;

  constructor(
    private readonly anchor: AuditAnchor,
    private readonly denials: DenialCounter,
    private readonly leader: Leadership,
    private readonly logger: Logger,
    schedule: CheckpointSchedule = {},
  ) {
    this.#everyEvents = Math.max(1, schedule.everyEvents ?? 1000);
    this.#everyMs = Math.max(0.05, schedule.everySeconds ?? 60) * 1000;
  }

  start(): this {
    // Look often enough to honour `everyEvents` under load, never more than 4 times a second.
    const pace = Math.max(250, Math.min(1000, this.#everyMs));
    const loop = () => {
      this.#running = this.tick().finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(loop, pace);
      });
    };
    this.#timer = setTimeout(loop, pace);
    return this;
  }

  async tick(now = Date.now()): Promise<void> {
    try {
      await this.denials.flush(now);
      if (!this.leader.isLeader) return;
      const due = now - this.#lastAt >= this.#everyMs || (await this.anchor.pending()) >= this.#everyEvents;
      if (!due) return;
      this.#lastAt = now;
      const cp = await this.anchor.checkpoint(new Date(now));
      if (cp) this.logger.debug({ seq: cp.seq, file: this.anchor.file.path }, 'audit checkpoint written');
    } catch (err) {
      this.logger.error({ err }, 'audit checkpoint failed');
    }
  }

  /** Stop the timer, write the open denial windows and a last checkpoint. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
    try {
      await this.denials.flush(Number.POSITIVE_INFINITY);
      if (this.leader.isLeader) await this.anchor.checkpoint();
    } catch (err) {
      this.logger.error({ err }, 'audit checkpoint at shutdown failed');
    }
  }
}
