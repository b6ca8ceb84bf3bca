// How a change made on one control-plane replica reaches the gateways subscribed to the others.
// On PostgreSQL every replica publishes each change with NOTIFY on `sluice_changes` (after the
// mutation committed; the payload names the replica, never a secret) and LISTENs on a connection
// of its own. A notification from another replica re-runs this replica's local fan-out, so its
// subscribed gateways get the push. Notifications are not stored: one sent while the LISTEN
// connection was down is lost. So on every (re)connect, and every `resyncMs`, the replica computes
// the desired-state revision and fans out when it differs from the last one it saw. The
// connection comes back with backoff; an outage is logged once. On SQLite nothing of this runs:
// one process owns the database and its fan-out is already complete.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { sql } from 'kysely';
import type { Logger } from '../../lib/log.js';
import type { ControlPlaneServices } from '../services/control-plane.js';

export const CHANGE_CHANNEL = 'sluice_changes';

export interface ChangeFeedOptions {
  url: string;
  logger: Logger;
  /** How often the revision is compared with the last one seen (default 5000 ms; 0: only at (re)connect). */
  resyncMs?: number | undefined;
  /** First reconnect delay, doubled up to `maxBackoffMs` (defaults 250 ms and 5000 ms). */
  backoffMs?: number | undefined;
  maxBackoffMs?: number | undefined;
  /** Shown in pg_stat_activity.application_name. */
  name?: string | undefined;
}

export class PostgresChangeFeed {
  /** Tells this replica's own notifications from the others'. */
  readonly replica = randomUUID();
  #client: pg.Client | undefined;
  #closed = false;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #resyncTimer: NodeJS.Timeout | undefined;
  #backoff: number;
  #down = false;
  #lastRevision: string | undefined;
  #resyncing: Promise<void> = Promise.resolve();
  #connecting: Promise<void> = Promise.resolve();

  constructor(
    private readonly services: ControlPlaneServices,
    private readonly options: ChangeFeedOptions,
  ) {
    this.#backoff = options.backoffMs ?? 250;
  }

  /** Connects and LISTENs; resolves once listening (or once the first attempt failed: it then retries). */
  async start(): Promise<this> {
    this.#connecting = this.#connect();
    await this.#connecting;
    const every = this.options.resyncMs ?? 5000;
    if (every > 0) {
      const tick = () => {
        this.#resyncTimer = setTimeout(() => {
          void this.resync().finally(() => {
            if (!this.#closed) tick();
          });
        }, every);
        this.#resyncTimer.unref();
      };
      tick();
    }
    return this;
  }

  /** Tell the other replicas that what gateways serve may have changed (called after the commit). */
  async publish(): Promise<void> {
    if (this.#closed) return;
    try {
      await sql`SELECT pg_notify(${CHANGE_CHANNEL}, ${JSON.stringify({ replica: this.replica })})`.execute(this.services.store.db);
    } catch (err) {
      // The others find the change at their next resync.
      this.options.logger.warn({ err }, 'change feed: could not NOTIFY the other replicas; they resync by revision');
    }
  }

  /** Compare the desired-state revision with the last one seen; fan out locally when it differs. */
  resync(): Promise<void> {
    this.#resyncing = this.#resyncing.then(async () => {
      if (this.#closed) return;
      try {
        const { revision } = await this.services.desiredState();
        if (revision !== this.#lastRevision) {
          const first = this.#lastRevision === undefined;
          this.#lastRevision = revision;
          if (!first) this.services.fanOut();
        }
      } catch (err) {
        this.options.logger.debug({ err }, 'change feed: resync failed; next try at the next tick');
      }
    });
    return this.#resyncing;
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({ connectionString: this.options.url, application_name: this.options.name ?? 'sluice-changes' });
    const lost = (err?: unknown) => {
      if (this.#client !== client) return;
      this.#client = undefined;
      void client.end().catch(() => undefined);
      this.#outage(err);
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (msg) => {
      if (msg.channel !== CHANGE_CHANNEL) return;
      let from: unknown;
      try {
        from = (JSON.parse(msg.payload ?? '{}') as { replica?: unknown }).replica;
      } catch {
        from = undefined;
      }
      // This replica already fanned out its own change when it made it.
      if (from !== this.replica) this.services.fanOut();
    });
    try {
      await client.connect();
      if (this.#closed) {
        await client.end().catch(() => undefined);
        return;
      }
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
      this.#client = client;
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      this.#outage(err);
      return;
    }
    if (this.#down) this.options.logger.info({ name: this.options.name }, 'change feed: listening again; resyncing by revision');
    this.#down = false;
    this.#backoff = this.options.backoffMs ?? 250;
    // Whatever was sent while nobody listened: compare revisions now.
    await this.resync();
  }

  #outage(err: unknown): void {
    if (this.#closed) return;
    if (!this.#down) {
      this.#down = true;
      this.options.logger.warn({ err, name: this.options.name }, 'change feed: LISTEN connection lost; reconnecting with backoff (gateways of this replica see other replicas\' changes late)');
    }
    clearTimeout(this.#reconnectTimer);
    const delay = this.#backoff;
    this.#backoff = Math.min(this.#backoff * 2, this.options.maxBackoffMs ?? 5000);
    this.#reconnectTimer = setTimeout(() => {
      this.#connecting = this.#connect();
    }, delay);
    this.#reconnectTimer.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#resyncTimer);
    await this.#connecting.catch(() => undefined);
    await this.#resyncing;
    const client = this.#client;
    this.#client = undefined;
    if (client) await client.end().catch(() => undefined);
  }
}
