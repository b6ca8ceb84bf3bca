// When a batch runs on the main thread ("inline") instead of going to a worker.
//
// A hand-off to a worker costs two cross-thread wake-ups, and a server that calls session.run on its
// own event loop pays neither. Measured at one connection on a quiet 2-core VM (docs/batching.md):
// weather's hop was 83 µs (45 to the worker, 38 back) beside 46 µs of compute; text-direction's was
// 330 µs, its threads sleeping deeper between calls, beside 810 µs of compute. Under load the hop also
// costs CPU on both threads and keeps each batch's objects alive across it: weather at 64
// connections served 1.24x the calls with every batch run on the main thread (docs/batching.md). So
// when a version's compute is cheap, the main thread runs the batch itself, on a session of its own
// with the same options and the same batch observers (workers/inline-runner.ts).
//
// The price: the event loop is blocked for the compute time c. Each call needs the loop when it
// arrives and when it is answered, and one that needs it meanwhile waits, c/2 on average. The gate
// takes the trade only when that expected wait is below the hop the batch's calls save:
//
//   λ · c² / 2 + min(others, λ · c) · c / 2 < calls · h
//
// - λ: calls per µs that arrive while another call is in flight (per µs of busy time outside
//   inline runs). A closed-loop client never sends while it waits, so it gives 0; open-loop traffic
//   and many connections give their rate. λ · c arrivals are expected during the run.
// - others: calls in flight in the gateway outside this batch and this version's queue (read, or
//   running in a worker); as many answers as arrivals come back meanwhile, at most all of them.
// - c: the batch's compute, from the version's measured compute per run scaled by its rows; h: the
//   hop (dispatch to answer minus compute) of batches sent to a free worker; calls: the batch's calls.
//
// One call alone in the gateway reduces it to λ · c² / 2 < h. Never past `inline_max_us` of
// compute, never for a version whose worker crashed (a crash on the main thread would take the
// gateway down), and one eligible batch in EXPLORE still goes to a worker, so h and c stay measured
// while the gate says yes.
import { systemClock, type BatcherClock } from './clock.js';

/** One eligible call in this many goes to a worker anyway: h and λ keep being measured. */
export const EXPLORE = 16;
/** The busy time λ is measured over decays with this time constant, µs. */
const DECAY_US = 2_000_000;
const DECAY_STEP_US = 1000;
/** λ is counted over at least this much busy time, µs (few samples do not make a rate of 0 or ∞). */
const MIN_BUSY_US = 5_000;
/** Weight of the newest run in c and h (about the last 16 runs count). */
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
  /** Moving averages over the version's batches: compute µs (c) and rows, and the worker hop µs (h). NaN until measured. */
  #computeUs = Number.NaN;
  #hopUs = Number.NaN;
  #rows = Number.NaN;
  #eligible = 0;
  /** Why this version never runs inline (undefined: it may). */
  off: string | undefined;
  /** Batches run inline so far. */
  inlineRuns = 0;

  constructor(load: InlineLoad, maxUs: number) {
    this.#load = load;
    this.#maxUs = maxUs;
    if (maxUs === 0) this.off = 'inline_max_us is 0';
  }

  /** c (per run, of `rows` rows on average) and h as measured so far, µs (NaN before a worker run). */
  get costs(): { computeUs: number; hopUs: number } {
    return { computeUs: this.#computeUs, hopUs: this.#hopUs };
  }

  /**
   * Asked by the batcher when it sends a batch of `calls` calls and `rows` rows to a free instance,
   * `queued` more calls of the version still waiting: run it on the main thread? Its compute is taken
   * as c scaled up by rows past the measured average (a batch, or a rollout's copy of many rows, is
   * judged by its size), never scaled down.
   */
  admit(rows: number, calls = 1, queued = 0): boolean {
    if (this.off !== undefined) return false;
    const c = this.#computeUs * Math.max(1, rows / this.#rows);
    const h = this.#hopUs;
    if (!(c <= this.#maxUs) || !(h > 0)) return false;
    if (++this.#eligible % EXPLORE === 0) return false;
    const arrivals = this.#load.rate * c;
    const others = Math.max(0, this.#load.inFlight - calls - queued);
    return (arrivals * c) / 2 + (Math.min(others, arrivals) * c) / 2 < calls * h;
  }

  /**
   * A batch of `rows` rows ran in a worker: `totalUs` from dispatch to answer, `computeUs` inside
   * session.run. `staged`: it waited behind a running batch, so its total is no hop (c only).
   */
  ranInWorker(totalUs: number, computeUs: number, rows: number, staged = false): void {
    this.#computeUs = average(this.#computeUs, computeUs);
    this.#rows = average(this.#rows, rows);
    const hop = totalUs - computeUs;
    if (!staged && hop > 0) this.#hopUs = average(this.#hopUs, hop);
  }

  /** A batch ran inline, `computeUs` inside session.run (the time the event loop was blocked). */
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
