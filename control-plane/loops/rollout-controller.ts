// The rollout controller: every `intervalMs` the leader replica moves each active rollout on
// (services/rollouts.ts `advance`: analyses, steps, pauses, switches, promotion, abort) and prunes
// old traffic windows. Every replica, leader or not, also watches the rollouts' last change so
// that gateways subscribed to it get a transition made by another replica pushed within one
// interval (the abort path's 2 s budget holds whichever replica a gateway talks to).
import type { Logger } from '../../lib/log.js';
import type { ControlPlaneServices } from '../services/control-plane.js';
import type { Leadership } from './leader.js';

export interface RolloutControllerOptions {
  /** Default 250 ms. */
  intervalMs?: number;
  /** Traffic windows are kept this long (default 1 h); older ones are pruned by the leader. */
  windowRetentionMs?: number;
}

const PRUNE_EVERY_MS = 60_000;

export class RolloutController {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #stopped = false;
  #lastSeen: string | null | undefined;
  #lastPrune = 0;
  readonly #intervalMs: number;
  readonly #retentionMs: number;

  constructor(
    private readonly services: ControlPlaneServices,
    private readonly leader: Leadership,
    private readonly logger: Logger,
    options: RolloutControllerOptions = {},
  ) {
    this.#intervalMs = options.intervalMs ?? 250;
    this.#retentionMs = options.windowRetentionMs ?? 3600_000;
  }

  start(): this {
    const loop = () => {
      this.#running = this.tick().finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(loop, this.#intervalMs);
      });
    };
    loop();
    return this;
  }

  /** One pass; errors are logged and the next pass tries again (a database blip must not stop rollouts). */
  async tick(): Promise<void> {
    try {
      await this.#watch();
      if (!this.leader.isLeader) return;
      for (const r of await this.services.rollouts.active()) {
        if (this.#stopped || !this.leader.isLeader) return;
        await this.services.rollouts.advance(r.id).catch((err: unknown) => this.logger.error({ err, rollout: r.id }, 'rollout controller: pass failed'));
      }
      if (Date.now() - this.#lastPrune > PRUNE_EVERY_MS) {
        this.#lastPrune = Date.now();
        const pruned = await this.services.traffic.prune(new Date(Date.now() - this.#retentionMs).toISOString());
        if (pruned > 0) this.logger.debug({ pruned }, 'rollout controller: pruned traffic windows');
      }
    } catch (err) {
      this.logger.error({ err }, 'rollout controller: pass failed');
    }
  }

  /** Push to this replica's subscribers when any replica changed a rollout. */
  async #watch(): Promise<void> {
    const last = await this.services.rollouts.lastChange();
    if (this.#lastSeen !== undefined && last !== this.#lastSeen) this.services.rollouts.externalChange();
    this.#lastSeen = last;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }
}
