// Time for the batcher: an interface so tests drive it with a fake clock, and the real one.
export interface BatcherClock {
  /** Microseconds on a monotonic clock. */
  now(): number;
  setTimer(fn: () => void, delayUs: number): unknown;
  clearTimer(handle: unknown): void;
}

/** A sub-millisecond wait: re-checked on every event-loop turn (I/O keeps flowing in between). */
class ShortTimer {
  cancelled = false;
  constructor(readonly due: number, readonly fn: () => void) {
    setImmediate(() => this.tick());
  }
  tick(): void {
    if (this.cancelled) return;
    if (performance.now() * 1000 >= this.due) this.fn();
    else setImmediate(() => this.tick());
  }
}

const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * The real clock. Node timers have 1 ms resolution, which would turn a 250 µs max_queue_delay into
 * 1 ms of added latency; delays under 1 ms are therefore waited on by event-loop turns instead.
 */
export const systemClock: BatcherClock = {
  now: () => performance.now() * 1000,
  // Node fires a setTimeout past 2^31-1 ms after 1 ms instead: a longer wait (a huge timeout_us) is capped at ~24.8 days.
  setTimer: (fn, delayUs) =>
    delayUs >= 1000 ? setTimeout(fn, Math.min(Math.round(delayUs / 1000), MAX_TIMEOUT_MS)) : new ShortTimer(performance.now() * 1000 + delayUs, fn),
  clearTimer: (handle) => {
    if (handle instanceof ShortTimer) handle.cancelled = true;
    else clearTimeout(handle as NodeJS.Timeout);
  },
};
