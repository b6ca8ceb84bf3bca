// Which control-plane replica runs the background loops. On PostgreSQL: the replica holding a
// session-level advisory lock (pg_try_advisory_lock) on a connection of its own. The lock lives
// exactly as long as that session, so a replica that dies, or whose connection is cut, loses it
// with no lease to expire; the others try for it every `retryMs` and one takes over. The holder
// pings its connection at the same pace so a silently dead session is noticed too. On SQLite the
// one process is always the leader.
import pg from 'pg';
import type { Logger } from '../../lib/log.js';

export interface Leadership {
  readonly isLeader: boolean;
  close(): Promise<void>;
}

/** SQLite: one process owns the database file, so it leads. */
export class SoleLeader implements Leadership {
  readonly isLeader = true;
  async close(): Promise<void> {}
}

/** The advisory lock's two keys: "sluice" and "loops", so no other application's lock collides by accident. */
const LOCK_KEYS = [0x51c3, 0x100b5] as const;

export interface AdvisoryLockOptions {
  url: string;
  logger: Logger;
  /** How often a follower tries for the lock and the leader checks its session (default 1000 ms). */
  retryMs?: number;
  /** Shown in pg_stat_activity.application_name: which replica holds the lock. */
  name?: string;
}

export class AdvisoryLockLeader implements Leadership {
  #leader = false;
  #client: pg.Client | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #busy: Promise<void> = Promise.resolve();
  readonly #retryMs: number;

  constructor(private readonly options: AdvisoryLockOptions) {
    this.#retryMs = options.retryMs ?? 1000;
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  start(): this {
    const loop = () => {
      this.#busy = this.#attempt().finally(() => {
        if (!this.#closed) this.#timer = setTimeout(loop, this.#retryMs);
      });
    };
    loop();
    return this;
  }

  async #attempt(): Promise<void> {
    try {
      const client = await this.#connection();
      if (this.#leader) {
        await client.query('SELECT 1');
        return;
      }
      const r = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS locked', [...LOCK_KEYS]);
      if (r.rows[0]?.locked && !this.#closed) {
        this.#leader = true;
        this.options.logger.info({ name: this.options.name }, 'leader: this replica runs the background loops');
      }
    } catch (err) {
      this.#lost(err);
    }
  }

  async #connection(): Promise<pg.Client> {
    if (this.#client) return this.#client;
    const client = new pg.Client({ connectionString: this.options.url, application_name: this.options.name ?? 'sluice-leader' });
    const drop = (err?: unknown) => {
      if (this.#client === client) {
        this.#client = undefined;
        this.#lost(err);
      }
    };
    client.on('error', drop);
    client.on('end', () => drop());
    await client.connect();
    this.#client = client;
    return client;
  }

  #lost(err: unknown): void {
    const client = this.#client;
    this.#client = undefined;
    if (client) void client.end().catch(() => undefined);
    if (this.#leader) {
      this.#leader = false;
      this.options.logger.warn({ err, name: this.options.name }, 'leader: lost the lock session; background loops stop here');
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#busy;
    this.#leader = false;
    const client = this.#client;
    this.#client = undefined;
    // Ending the session releases the advisory lock at once, so another replica takes over at its next try.
    if (client) await client.end().catch(() => undefined);
  }
}
