// The open-loop arrival schedule. Call i is *intended* at start + i / rate, whatever the server does;
// its latency is measured from that intended time, not from when a connection became free to send it.
// A server that stalls therefore shows the stall in every call scheduled behind it (no coordinated
// omission), as wrk2 and HdrHistogram's authors prescribe.

export class ArrivalSchedule {
  readonly #startMs: number;
  readonly #intervalMs: number;
  #issued = 0;

  /** `rate` calls per second from `startMs` (a performance.now() reading). */
  constructor(rate: number, startMs: number) {
    if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`arrival rate must be a positive number, got ${rate}`);
    this.#startMs = startMs;
    this.#intervalMs = 1000 / rate;
  }

  /** How many calls have been handed out so far. */
  get issued(): number {
    return this.#issued;
  }

  /** Intended send time of call `i` (0-based). */
  intendedAt(i: number): number {
    return this.#startMs + i * this.#intervalMs;
  }

  /**
   * Hand out every call due by `nowMs` (intended time <= now), calling `send(intendedMs)` for each in
   * order; a late timer therefore catches up by sending the backlog at once, each call keeping its own
   * intended time. Returns how many were sent.
   */
  due(nowMs: number, send: (intendedMs: number) => void): number {
    let n = 0;
    while (this.intendedAt(this.#issued) <= nowMs) {
      send(this.intendedAt(this.#issued));
      this.#issued++;
      n++;
    }
    return n;
  }

  /** Milliseconds from `nowMs` until the next call is due (0 if it already is). */
  untilNext(nowMs: number): number {
    return Math.max(0, this.intendedAt(this.#issued) - nowMs);
  }
}
