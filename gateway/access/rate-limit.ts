// Per-token rate limits: one token bucket per token hash, refilled continuously at `rate` calls per
// second up to `burst`. A call takes one token or is refused with the seconds until one is back
// (429 + Retry-After), before any byte of its body is read.

export interface RateLimit {
  /** Calls per second, sustained. */
  rate: number;
  /** Calls allowed at once after an idle spell (default: rate, at least 1). */
  burst: number;
}

/** Parses `RATE` or `RATE:BURST` (calls per second); undefined for an invalid text. */
export function parseRateLimit(text: string): RateLimit | undefined {
  const m = /^(\d+(?:\.\d+)?)(?::(\d+))?$/.exec(text.trim());
  if (!m) return undefined;
  const rate = Number(m[1]);
  if (!(rate > 0)) return undefined;
  const burst = m[2] === undefined ? Math.max(1, Math.ceil(rate)) : Number(m[2]);
  return burst >= 1 ? { rate, burst } : undefined;
}

class TokenBucket {
  tokens: number;
  last: number;

  constructor(
    public limit: RateLimit,
    now: number,
  ) {
    this.tokens = limit.burst;
    this.last = now;
  }

  /** 0 when the call may go, else whole seconds until a token is back. */
  take(now: number): number {
    const { rate, burst } = this.limit;
    this.tokens = Math.min(burst, this.tokens + ((now - this.last) / 1000) * rate);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - this.tokens) / rate));
  }
}

/** The buckets of every token seen, by token hash; a bucket keeps its level across access updates. */
export class RateLimiter {
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** 0 when the call may go, else the Retry-After seconds. */
  take(hash: string, limit: RateLimit): number {
    const now = this.#now();
    let bucket = this.#buckets.get(hash);
    if (bucket === undefined) this.#buckets.set(hash, (bucket = new TokenBucket(limit, now)));
    else if (bucket.limit !== limit) bucket.limit = limit;
    return bucket.take(now);
  }

  /** Drop the buckets of tokens no longer live (after an access update). */
  retain(live: ReadonlySet<string>): void {
    for (const hash of this.#buckets.keys()) if (!live.has(hash)) this.#buckets.delete(hash);
  }
}
