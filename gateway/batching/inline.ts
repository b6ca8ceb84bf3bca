// When a lone call runs on the main thread ("inline") instead of going to a worker.
//
// A hand-off to a worker costs two cross-thread wake-ups, and a server that calls session.run on its
// own event loop pays neither. Measured at one connection on a quiet 2-core VM (docs/batching.md):
// weather's hop was 83 µs (45 to the worker, 38 back) beside 46 µs of compute; text-direction's was
// 330 µs, its threads sleeping deeper between calls, beside 810 µs of compute. So when a call is
// alone in the gateway and its model's compute is cheap, the main thread runs it itself, on a
// session of its own with the same options and the same batch observers (workers/inline-runner.ts).
//
// The price: the event loop is blocked for the compute time, and a call that arrives meanwhile is
// read only afterwards, where a worker would have left the loop free for it. The gate takes the
// trade only when its expected price is below the hop it saves:
//
//   λ · c² / 2 < h
//
// - λ: calls per µs that arrive while another call is in flight (per µs of busy time outside
//   inline runs). A closed-loop client never sends while it waits, so it gives 0; open-loop traffic
//   gives its rate. It is the chance of a collision per µs of blocked loop.
// - c: the version's compute per lone call; h: its hop (dispatch to answer minus compute) as the
//   worker runs measure them.
//
// Never past `inline_max_us` of compute, never while another call is in flight, never for a version
// whose worker crashed (a crash on the main thread would take the gateway down), and one eligible
// call in EXPLORE still goes to a worker, so h and λ stay measured while the gate says yes.
import { systemClock, type BatcherClock } from './clock.js';

/** One eligible call in this many goes to a worker anyway: h and λ keep being measured. */
export const EXPLORE = 16;
/** The busy time λ is measured over decays with this time constant, µs. */
const DECAY_US = 2_000_000;
const DECAY_STEP_US = 1000;
/** λ is counted over at least this much busy time, µs (few samples do not make a rate of 0 or ∞). */
const MIN_BUSY_US = 5_000;
/** Weight of the newest run in c and h (about the last 16 lone runs count). */
const RUN_WEIGHT = 1 / 16;

/** The gateway's load as the inline decision needs it: calls in flight, and λ. One per gateway. */
export class InlineLoad {
  readonly #clock: BatcherClock;
  #inFlight = 0;
  #busySince = 0;
  /** µs of inline runs inside the current busy period (the loop was blocked: arrivals could not be seen). */
  #inlineInBusy = 0;
  // Exponentially decayed sums: busy µs, and arrivals that found a call in flight.
  #busyUs = 0;
  #arrivals = 0;
  #decayedAt = 0;

  constructor(clock: BatcherClock = systemClock) {
    this.#clock = clock;
    this.#decayedAt = clock.now();
  }

  /** Calls accepted and not yet answered, the one asking included. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Calls per µs arriving while another is in flight (0 before any such arrival). */
  get rate(): number {
    this.#decay(this.#clock.now());
    return this.#arrivals / Math.max(this.#busyUs, MIN_BUSY_US);
  }

  /** A call was accepted. */
  arrive(): void {
    if (this.#inFlight === 0) {
      this.#busySince = this.#clock.now();
      this.#inlineInBusy = 0;
    } else {
      this.#decay(this.#clock.now());
      this.#arrivals++;
    }
    this.#inFlight++;
  }

  /** A call was answered (or failed). */
  depart(): void {
    if (this.#inFlight === 0 || --this.#inFlight > 0) return;
    const now = this.#clock.now();
    this.#decay(now);
    const busy = now - this.#busySince - this.#inlineInBusy;
    if (busy > 0) this.#busyUs += busy;
  }

  /** An inline run took `us` of the current busy period. */
  ranInline(us: number): void {
    this.#inlineInBusy += us;
  }

  /** Decays at most once per ms: at 64 connections arrive() runs per call, and Math.exp is not free. */
  #decay(now: number): void {
    const dt = now - this.#decayedAt;
    if (dt < DECAY_STEP_US) return;
    this.#decayedAt = now;
    const f = Math.exp(-dt / DECAY_US);
    this.#busyUs *= f;
    this.#arrivals *= f;
  }
}

/** One model version's side of the decision: its measured c and h, and whether it may run inline at all. */
export class InlineGate {
  readonly #load: InlineLoad;
  readonly #maxUs: number;
  /** Moving averages over lone batches: compute µs (c), the worker hop µs (h), rows. NaN until measured. */
  #computeUs = Number.NaN;
  #hopUs = Number.NaN;
  #rows = Number.NaN;
  #eligible = 0;
  /** Why this version never runs inline (undefined: it may). */
  off: string | undefined;
  /** Lone calls run inline so far. */
  inlineRuns = 0;

  constructor(load: InlineLoad, maxUs: number) {
    this.#load = load;
    this.#maxUs = maxUs;
    if (maxUs === 0) this.off = 'inline_max_us is 0';
  }

  /** c and h as measured so far, µs (NaN before a lone worker run). */
  get costs(): { computeUs: number; hopUs: number } {
    return { computeUs: this.#computeUs, hopUs: this.#hopUs };
  }

  /**
   * Asked by the batcher when it sends a lone call of `rows` rows to an idle version: run it on the
   * main thread? Its compute is taken as c scaled up by rows past the measured average (a rollout's
   * copies of many rows, e.g., are judged by their size), never scaled down.
   */
  admit(rows: number): boolean {
    if (this.off !== undefined || this.#load.inFlight > 1) return false;
    const c = this.#computeUs * Math.max(1, rows / this.#rows);
    const h = this.#hopUs;
    if (!(c <= this.#maxUs) || !(h > 0)) return false;
    if (++this.#eligible % EXPLORE === 0) return false;
    return (this.#load.rate * c * c) / 2 < h;
  }

  /** A lone call's batch ran in a worker: `totalUs` from dispatch to answer, `computeUs` inside session.run. */
  ranInWorker(totalUs: number, computeUs: number, rows: number): void {
    this.#computeUs = average(this.#computeUs, computeUs);
    this.#rows = average(this.#rows, rows);
    const hop = totalUs - computeUs;
    if (hop > 0) this.#hopUs = average(this.#hopUs, hop);
  }

  /** A lone call ran inline, `computeUs` inside session.run (the time the event loop was blocked). */
  ranInline(computeUs: number, rows: number): void {
    this.inlineRuns++;
    this.#computeUs = average(this.#computeUs, computeUs);
    this.#rows = average(this.#rows, rows);
    this.#load.ranInline(computeUs);
  }
}

function average(mean: number, x: number): number {
  return Number.isNaN(mean) ? x : mean + (x - mean) * RUN_WEIGHT;
}
