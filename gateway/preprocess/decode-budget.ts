// The image decode budget (docs/budgets.md): sharp decodes on libuv's small thread pool, which the
// gateway's file and DNS work share, so decodes running at once are capped, and so are the pixels
// one request may ask for (summed over its images, read from their headers before any decode).
// Past either the request is refused at once, never queued: a refused client retries, a queue of
// decodes would hold their encoded bytes and delay every call behind them.
import { SluiceError } from '../../lib/errors.js';

export class DecodeBudget {
  readonly maxConcurrent: number;
  readonly maxPixelsPerRequest: number;
  #running = 0;

  constructor(maxConcurrent: number, maxPixelsPerRequest: number) {
    if (!(Number.isSafeInteger(maxConcurrent) && maxConcurrent > 0)) {
      throw new SluiceError('SLUICE_E_CONFIG_INVALID', `maxConcurrentDecodes must be a positive integer, got ${maxConcurrent}`);
    }
    if (!(Number.isSafeInteger(maxPixelsPerRequest) && maxPixelsPerRequest > 0)) {
      throw new SluiceError('SLUICE_E_CONFIG_INVALID', `maxPixelsPerRequest must be a positive integer, got ${maxPixelsPerRequest}`);
    }
    this.maxConcurrent = maxConcurrent;
    this.maxPixelsPerRequest = maxPixelsPerRequest;
  }

  /** Decodes running now. */
  get running(): number {
    return this.#running;
  }

  /** Throws SLUICE_E_BUDGET_PIXELS when `pixels` (one request's, from its headers) pass the limit. */
  checkPixels(pixels: number, input: string): void {
    if (pixels > this.maxPixelsPerRequest) {
      throw new SluiceError('SLUICE_E_BUDGET_PIXELS', `input ${input}: the images hold ${pixels} pixels; one request may hold at most ${this.maxPixelsPerRequest}`, {
        details: { pixels, max_pixels_per_request: this.maxPixelsPerRequest },
      });
    }
  }

  /**
   * Takes up to `wanted` decode slots (at least one) and returns how many; throws
   * SLUICE_E_BUDGET_DECODE_BUSY (503, Retry-After) when none is free. Give them back with release().
   */
  acquire(wanted: number): number {
    const free = this.maxConcurrent - this.#running;
    if (free <= 0) {
      throw new SluiceError('SLUICE_E_BUDGET_DECODE_BUSY', `${this.#running} images are being decoded (limit ${this.maxConcurrent}); retry later`, {
        retryAfter: 1, details: { max_concurrent_decodes: this.maxConcurrent },
      });
    }
    const n = Math.min(free, Math.max(1, wanted));
    this.#running += n;
    return n;
  }

  release(n: number): void {
    this.#running -= n;
  }
}
