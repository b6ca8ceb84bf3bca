// Denied calls, counted instead of written one row each. A caller that keeps calling what it may
// not (a wrong token in a retry loop, a scanner) would otherwise add one chained event per call and
// flood the log. Denials are grouped per caller (the token, or the client address when the token is
// unknown), action and reason: the first of a window is written at once, so a single denial shows up
// as before; the repeats are counted and written as one event when the window closes (and at
// shutdown), with the count and the window's bounds in `after`.
import type { CallContext } from './actor.js';

/** The actor of a call whose token is unknown, revoked or malformed. */
export const UNAUTHENTICATED_ID = 'unauthenticated';

interface DenialEntry {
  action: string;
  resource: string;
  outcome: 'denied';
  reason: string;
  after?: unknown;
}

interface DenialWindow {
  ctx: CallContext;
  action: string;
  resource: string;
  reason: string;
  openedAt: number;
  lastAt: number;
  repeats: number;
  resources: Set<string>;
}

/** Past this many open windows (callers x actions), further callers share one window per action. */
const MAX_WINDOWS = 10_000;
/** Distinct resources named in a repeat event (the rest are only counted). */
const MAX_RESOURCES = 20;

export class DenialCounter {
  readonly #windows = new Map<string, DenialWindow>();
  #flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (ctx: CallContext, entry: DenialEntry) => Promise<void>,
    /** How long repeats of one caller's denial are counted before they are written (default 60 s). */
    readonly windowMs = 60_000,
  ) {}

  /** Count one denial; writes it when it opens a window. */
  async count(ctx: CallContext, action: string, resource: string, reason: string, now = Date.now()): Promise<void> {
    const caller = ctx.actor.id === UNAUTHENTICATED_ID ? `address:${ctx.request.clientAddress}` : `token:${ctx.actor.id}`;
    let key = `${caller}|${action}|${reason}`;
    if (!this.#windows.has(key) && this.#windows.size >= MAX_WINDOWS) key = `overflow|${action}|${reason}`;
    const open = this.#windows.get(key);
    if (open !== undefined) {
      open.repeats++;
      open.lastAt = now;
      if (open.resources.size < MAX_RESOURCES) open.resources.add(resource);
      return;
    }
    this.#windows.set(key, { ctx, action, resource, reason, openedAt: now, lastAt: now, repeats: 0, resources: new Set() });
    await this.write(ctx, { action, resource, outcome: 'denied', reason, after: { deniedCalls: 1 } });
  }

  /** Close the windows opened `windowMs` before `now` (all of them for +Infinity) and write their repeats. */
  flush(now: number): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      for (const [key, w] of this.#windows) {
        if (now - w.openedAt < this.windowMs) continue;
        this.#windows.delete(key);
        if (w.repeats === 0) continue;
        await this.write(w.ctx, {
          action: w.action,
          resource: w.resource,
          outcome: 'denied',
          reason: w.reason,
          after: { deniedCalls: w.repeats, repeated: true, from: new Date(w.openedAt).toISOString(), to: new Date(w.lastAt).toISOString(), resources: [...w.resources].sort() },
        });
      }
    });
    return this.#flushing;
  }
}
