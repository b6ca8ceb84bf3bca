// The dynamic batcher of one model version, with Triton's semantics (dynamic_batch_scheduler.cc):
// it decides *what* runs together and *when*; `execute` (the worker pool) only runs it. It knows
// nothing of HTTP or ONNX Runtime, so it is tested with plain objects and a fake clock.
//
// - A batch starts when an instance is free and either the queue holds a full batch (the largest
//   preferred size, else max_batch_size) or the oldest request has waited max_queue_delay_us.
//   With `adaptive` (the gateway's default) the wait for a free instance is chosen instead from
//   what the batcher observes (see #adaptiveWaitUs): at once when nothing else is likely to come
//   before the batch would have finished, max_queue_delay_us staying the upper bound.
//   With `stagedBatches`, that many more batches may be formed ahead to wait behind running ones
//   (Sluice's addition: a worker's next batch is ready the moment it finishes one).
// - Requests are taken by priority (level 1 first), FIFO within a level; a batch never mixes
//   requests whose non-batch shapes differ (`shapeKey`): it ends at the first one that does.
// - A request with a deadline is answered at its deadline (504) even while the batch in front of
//   it runs, and an expired request never runs.
// - The queue is bounded: past max_queue_size, enqueue() refuses at once (503 + Retry-After).
// - A request with a deadline is also refused at once (503 SLUICE_E_BATCH_QUEUE_LATE) when the
//   queue it would join has stood longer than half that deadline: the oldest request of its level
//   or above has waited that long, so a newcomer would spend its deadline waiting and leave no
//   time for the run, the answer, or the time it spent reaching the gateway (CoDel's sojourn time).
//   So too when the rows ahead of it would take longer than half its deadline to run, by the
//   learned batch cost curve: a queue still filling has not stood long, but it is already too long.
// - Background work (explanations' evaluation rows) waits in its own queue below every priority
//   level, bounded in rows by `backgroundQueueRows` and not counted against max_queue_size: it
//   runs only when no call waits, and on at most instances − 1 instances at once (1 when there is
//   one), so a call finds an instance free: inference is never starved or refused because of it.
// - An aborted request (client gone) is dropped from the queue before it runs.
import { SluiceError, toSluiceError } from '../../lib/errors.js';
import { EXPLAIN_DEFAULTS, type ModelConfig } from '../models/config.js';
import type { CancelSignal } from '../util/cancel-signal.js';
import { RingQueue } from '../util/ring-queue.js';
import { systemClock, type BatcherClock } from './clock.js';

export { systemClock, type BatcherClock, type CancelSignal };

export interface BatcherOptions {
  /** 0: the model does not batch; each request runs alone. */
  maxBatchSize: number;
  maxQueueDelayUs: number;
  /** Ascending. */
  preferredBatchSizes: readonly number[];
  maxQueueSize: number;
  priorityLevels: number;
  defaultPriorityLevel: number;
  /** 0 = no deadline unless the request sets one. */
  defaultTimeoutUs: number;
  /** Batches of this model version that may run at the same time. */
  instances: number;
  /**
   * Batches that may be formed ahead, beyond `instances`: they wait, assembled, for a free worker,
   * so a worker does not idle while the main thread forms the next one. 0 (default) forms a
   * batch only when an instance is free. A staged batch is past the queue: its requests' deadlines
   * are still answered on time, and the worker skips a batch whose every deadline has passed.
   */
  stagedBatches?: number | undefined;
  /**
   * Work-conserving, adaptive wait (Sluice's addition). A request that finds an instance free
   * waits only as long as more arrivals are expected within the time its batch would take, judged
   * from the arrival rate and the batch cost curve (fixed + per-row µs) learned from the batches
   * run; never longer than maxQueueDelayUs. Off (undefined/false): the fixed Triton wait.
   */
  adaptive?: boolean | undefined;
  /** Rows of background work that may wait (0 or undefined: background work is refused). */
  backgroundQueueRows?: number | undefined;
}

export function batcherOptionsFromConfig(config: ModelConfig): BatcherOptions {
  const batching = config.dynamic_batching;
  return {
    maxBatchSize: config.max_batch_size,
    maxQueueDelayUs: batching.max_queue_delay_us,
    preferredBatchSizes: [...new Set(batching.preferred_batch_sizes)],
    maxQueueSize: batching.max_queue_size,
    priorityLevels: batching.priority_levels,
    defaultPriorityLevel: batching.default_priority_level,
    defaultTimeoutUs: batching.default_timeout_us,
    instances: config.instances,
    stagedBatches: batching.staged_batches,
    adaptive: batching.adaptive_delay,
    backgroundQueueRows: (config.explain ?? EXPLAIN_DEFAULTS).max_queue_rows,
  };
}


export interface EnqueueOptions {
  /** Rows along the batch dimension (1 when the model does not batch). */
  rows: number;
  /** Requests batch together only when their non-batch shapes (this key) are equal. */
  shapeKey: string;
  /** 1 is the highest; 0 or undefined takes the default level. */
  priority?: number | undefined;
  /** May only shorten the default timeout. */
  timeoutUs?: number | undefined;
  signal?: CancelSignal | undefined;
  /**
   * Background work: below every priority level, bounded by backgroundQueueRows (503
   * SLUICE_E_EXPLAIN_QUEUE_FULL past it), not part of the arrival rate the adaptive wait reads.
   */
  background?: boolean | undefined;
}

const QUEUED = 0;
const RUNNING = 1;
const DONE = 2;

/** A request while the batcher holds it; `execute` sees these, with their stamps. */
export class QueuedRequest<T, R = unknown> {
  readonly payload: T;
  readonly rows: number;
  readonly shapeKey: string;
  readonly enqueuedAt: number;
  /** Clock time (µs) of the request's deadline; Infinity when it has none. */
  deadline = Infinity;
  dispatchedAt = 0;
  state = QUEUED;
  background = false;
  /** Index of the queue it waits in (priority level − 1; the background queue last). */
  queue = 0;
  timer: unknown = undefined;
  onAbort: (() => void) | undefined = undefined;
  signal: CancelSignal | undefined;
  resolve!: (value: R) => void;
  reject!: (err: SluiceError) => void;

  constructor(payload: T, rows: number, shapeKey: string, enqueuedAt: number, signal: CancelSignal | undefined) {
    this.payload = payload;
    this.rows = rows;
    this.shapeKey = shapeKey;
    this.enqueuedAt = enqueuedAt;
    this.signal = signal;
  }
}

/**
 * `staged`: the batch was formed ahead, while every instance of the model was busy. `inline`: a lone
 * call that `Batcher.inline` said to run on the calling thread (inline.ts).
 */
export type ExecuteBatch<T, R> = (batch: readonly QueuedRequest<T, R>[], staged: boolean, inline: boolean) => Promise<R[]>;

export class Batcher<T, R> {
  readonly options: BatcherOptions;
  readonly #execute: ExecuteBatch<T, R>;
  readonly #clock: BatcherClock;
  /**
   * Asked when a batch of calls (not background work) is dispatched to a free instance, with its
   * rows, its calls and the calls still queued behind it: true runs it inline, on the calling thread
   * (inline.ts). Unset: never.
   */
  inline: ((rows: number, calls: number, queued: number) => boolean) | undefined = undefined;
  readonly #queues: RingQueue<QueuedRequest<T, R>>[];
  #pending = 0;
  #pendingRows = 0;
  /** Rows waiting per queue (priority level − 1), for the drain time a newcomer would wait. */
  readonly #queueRows: Float64Array;
  /** Background requests and rows among the pending ones. */
  #backgroundPending = 0;
  #backgroundRows = 0;
  /** Background batches running (or staged). */
  #backgroundInFlight = 0;
  #inFlight = 0;
  #timer: unknown = undefined;
  #timerDue = 0;
  #closing = false;
  #idle: (() => void) | undefined = undefined;
  // Observed load, for the adaptive wait (plain numbers: nothing allocated per request).
  #lastArrival = -Infinity;
  /** Moving average of the gap between arrivals, µs; Infinity until two have arrived. */
  #gapUs = Infinity;
  // Exponentially weighted sums for the least-squares line cost = fixed + perRow × rows.
  #costW = 0;
  #costX = 0;
  #costY = 0;
  #costXX = 0;
  #costXY = 0;

  constructor(options: BatcherOptions, execute: ExecuteBatch<T, R>, clock: BatcherClock = systemClock) {
    this.options = validate(options);
    this.#execute = execute;
    this.#clock = clock;
    // One queue per priority level, then the background queue.
    this.#queues = Array.from({ length: options.priorityLevels + 1 }, () => new RingQueue<QueuedRequest<T, R>>());
    this.#queueRows = new Float64Array(options.priorityLevels + 1);
  }

  /** Requests waiting (not yet in a batch). */
  get queueDepth(): number {
    return this.#pending;
  }

  /**
   * The batch cost curve learned so far, µs: `fixedUs + perRowUs × rows`; undefined before any
   * batch ran on a free instance.
   */
  get costModel(): { fixedUs: number; perRowUs: number } | undefined {
    if (this.#costW === 0) return undefined;
    return { fixedUs: this.#fixedUs(), perRowUs: this.#perRowUs() };
  }

  /** Moving average of the time between arrivals, µs (Infinity before two requests). */
  get arrivalGapUs(): number {
    return this.#gapUs;
  }

  /** Batches running now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Throws the refusal enqueue() would give now for a full queue: a caller with costly work to do
   * before enqueue() (decoding images) asks first, so a full queue refuses before the work.
   */
  checkRoom(): void {
    if (this.#pending - this.#backgroundPending >= this.options.maxQueueSize) throw queueFull(this.options.maxQueueSize);
  }

  /** Rows of background work waiting. */
  get backgroundRows(): number {
    return this.#backgroundRows;
  }

  enqueue(payload: T, opts: EnqueueOptions): Promise<R> {
    const o = this.options;
    if (this.#closing) {
      return Promise.reject(new SluiceError('SLUICE_E_MODEL_NOT_READY', 'model version is being unloaded', { retryAfter: 1 }));
    }
    const background = opts.background === true;
    const level = background ? o.priorityLevels + 1 : opts.priority === undefined || opts.priority === 0 ? o.defaultPriorityLevel : opts.priority;
    if (!background && (!Number.isInteger(level) || level < 1 || level > o.priorityLevels)) {
      return Promise.reject(new SluiceError('SLUICE_E_PROTOCOL_BAD_PARAMETER', `parameter priority must be an integer from 1 to ${o.priorityLevels}`));
    }
    const timeout = effectiveTimeout(o.defaultTimeoutUs, opts.timeoutUs);
    if (timeout < 0) {
      return Promise.reject(new SluiceError('SLUICE_E_PROTOCOL_BAD_PARAMETER', 'parameter timeout_us must be a non-negative integer'));
    }
    if (background) {
      const room = o.backgroundQueueRows ?? 0;
      if (this.#backgroundRows + opts.rows > room) return Promise.reject(backgroundFull(room));
    } else if (this.#pending - this.#backgroundPending >= o.maxQueueSize) return Promise.reject(queueFull(o.maxQueueSize));
    if (opts.signal?.aborted) return Promise.reject(cancelled());
    const now = this.#clock.now();
    if (!background && timeout > 0) {
      const standing = now - this.#oldestUpTo(level);
      if (standing > timeout / 2) return Promise.reject(queueLate(standing, timeout));
      // Half, as for the standing queue: the rest is for the hiccups of a full machine, the answer,
      // and the time the call spent before it reached the gateway.
      const drain = this.#drainUs(level, opts.rows);
      if (drain > timeout / 2) return Promise.reject(queueTooLong(drain, timeout));
    }
    const entry = new QueuedRequest<T, R>(payload, opts.rows, opts.shapeKey, now, opts.signal);
    entry.background = background;
    settling = entry as QueuedRequest<unknown, unknown>;
    const promise = new Promise<R>(takeSettlers as (resolve: (value: R) => void, reject: (err: SluiceError) => void) => void);
    if (timeout > 0) {
      entry.deadline = now + timeout;
      entry.timer = this.#clock.setTimer(() => this.#expire(entry), timeout);
    }
    if (opts.signal) {
      entry.onAbort = () => this.#cancel(entry);
      opts.signal.addEventListener('abort', entry.onAbort, ONCE);
    }
    if (background) {
      this.#backgroundPending++;
      this.#backgroundRows += entry.rows;
    } else {
      if (this.#lastArrival !== -Infinity) {
        const gap = now - this.#lastArrival;
        this.#gapUs = this.#gapUs === Infinity ? gap : this.#gapUs + (gap - this.#gapUs) * GAP_WEIGHT;
      }
      this.#lastArrival = now;
    }
    this.#queues[level - 1]!.push(entry);
    entry.queue = level - 1;
    this.#queueRows[level - 1]! += entry.rows;
    this.#pending++;
    this.#pendingRows += entry.rows;
    this.#schedule();
    return promise;
  }

  /** Stop taking requests, run what is queued without waiting for the delay, resolve once idle. */
  close(): Promise<void> {
    this.#closing = true;
    this.#schedule();
    if (this.#pending === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle = resolve;
    });
  }

  #schedule(): void {
    const o = this.options;
    const limit = o.instances + (o.stagedBatches ?? 0);
    while (this.#inFlight < limit && this.#pending > 0) {
      // Only background work waits: it may not take the last free instance from the calls to come.
      if (this.#pending === this.#backgroundPending && this.#backgroundInFlight >= Math.max(1, o.instances - 1)) break;
      const oldest = this.#oldest();
      // A staged batch (every instance busy) always waits the fixed delay: it cannot run sooner anyway.
      const wait = o.adaptive && this.#inFlight < o.instances ? this.#adaptiveWaitUs() : o.maxQueueDelayUs;
      const waitedEnough = oldest !== undefined && this.#clock.now() - oldest >= wait;
      if (!(this.#closing || wait === 0 || this.#pendingRows >= this.#fullBatch() || waitedEnough)) {
        this.#armTimer(oldest! + wait);
        return;
      }
      this.#dispatch(this.#formBatch());
    }
    if (this.#pending === 0) this.#disarmTimer();
    if (this.#pending === 0 && this.#inFlight === 0 && this.#idle) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle();
    }
  }

  /**
   * How long the queue's oldest request should wait for company while an instance is free, µs.
   * - 0 when another instance would still be free (a newcomer runs at once there anyway) or no
   *   batch has been measured yet (work-conserving until the cost curve is known);
   * - 0 when fewer than one more arrival is expected within the time the batch would take now
   *   (cost(pending rows) × arrival rate < 1): at low load a call never waits for a batch that
   *   will not fill;
   * - else the time until a full batch is expected, capped by the batch's own cost (waiting
   *   longer than one run costs more than running twice) and by max_queue_delay_us.
   */
  #adaptiveWaitUs(): number {
    const o = this.options;
    if (this.#closing || o.maxQueueDelayUs === 0 || this.#costW === 0 || this.#inFlight + 1 < o.instances) return 0;
    const gap = Math.max(this.#gapUs, this.#clock.now() - this.#lastArrival);
    const cost = this.#fixedUs() + this.#perRowUs() * this.#pendingRows;
    if (!(gap < Infinity) || cost < gap) return 0;
    const fill = (this.#fullBatch() - this.#pendingRows) * gap;
    return Math.min(o.maxQueueDelayUs, cost, fill);
  }

  #perRowUs(): number {
    const w = this.#costW;
    const mx = this.#costX / w;
    const varX = this.#costXX / w - mx * mx;
    if (!(varX > 1e-9)) return 0;
    const slope = (this.#costXY / w - mx * (this.#costY / w)) / varX;
    return slope > 0 ? slope : 0;
  }

  #fixedUs(): number {
    const w = this.#costW;
    const fixed = this.#costY / w - this.#perRowUs() * (this.#costX / w);
    return fixed > 0 ? fixed : 0;
  }

  /** One batch's cost as the batcher sees it (dispatch to answer), rows → µs. */
  #learnCost(rows: number, us: number): void {
    const keep = 1 - COST_WEIGHT;
    this.#costW = this.#costW * keep + 1;
    this.#costX = this.#costX * keep + rows;
    this.#costY = this.#costY * keep + us;
    this.#costXX = this.#costXX * keep + rows * rows;
    this.#costXY = this.#costXY * keep + rows * us;
  }

  /** Rows that make a batch worth sending at once. */
  #fullBatch(): number {
    const o = this.options;
    if (o.maxBatchSize === 0) return 1;
    const pref = o.preferredBatchSizes;
    return pref.length > 0 ? pref[pref.length - 1]! : o.maxBatchSize;
  }

  /** Most rows the next batch may take: the largest preferred size that can be formed, else everything. */
  #batchCap(): number {
    const o = this.options;
    if (o.maxBatchSize === 0) return 1;
    const pref = o.preferredBatchSizes;
    for (let i = pref.length - 1; i >= 0; i--) if (pref[i]! <= this.#pendingRows) return pref[i]!;
    return o.maxBatchSize;
  }

  #formBatch(): QueuedRequest<T, R>[] {
    const cap = this.#batchCap();
    const batch: QueuedRequest<T, R>[] = [];
    let rows = 0;
    let shapeKey: string | undefined;
    for (const queue of this.#queues) {
      for (;;) {
        const head = this.#liveHead(queue);
        if (head === undefined) break;
        if (batch.length > 0 && (head.shapeKey !== shapeKey || rows + head.rows > cap || this.options.maxBatchSize === 0)) {
          return batch;
        }
        queue.shift();
        shapeKey = head.shapeKey;
        rows += head.rows;
        batch.push(head);
      }
    }
    return batch;
  }

  #dispatch(batch: QueuedRequest<T, R>[]): void {
    const now = this.#clock.now();
    for (const entry of batch) {
      entry.state = RUNNING;
      entry.dispatchedAt = now;
      this.#leave(entry);
    }
    const staged = this.#inFlight >= this.options.instances;
    // A batch is all background work or none of it: their shape keys differ from every call's.
    const background = batch[0]!.background;
    let rows = 0;
    for (const entry of batch) rows += entry.rows;
    const inline = this.inline !== undefined && !staged && !background && this.inline(rows, batch.length, this.#pending);
    this.#inFlight++;
    if (background) this.#backgroundInFlight++;
    // A staged or inline batch's time is not what a free worker instance costs: not learned.
    const learn = this.options.adaptive === true && !staged && !inline;
    let run: Promise<R[]>;
    try {
      run = this.#execute(batch, staged, inline);
    } catch (err) {
      run = Promise.reject(err);
    }
    // The instance is free again before any of the batch's callers hear back: the next batch is
    // formed and sent first, so the worker is not left idle while eight responses are written.
    const freed = () => {
      this.#inFlight--;
      if (background) this.#backgroundInFlight--;
      this.#schedule();
    };
    run.then(
      (results) => {
        if (learn && rows > 0) this.#learnCost(rows, this.#clock.now() - now);
        freed();
        if (results.length !== batch.length) {
          this.#fail(batch, new SluiceError('SLUICE_E_INTERNAL', 'batch returned the wrong number of results'));
          return;
        }
        for (let i = 0; i < batch.length; i++) {
          const entry = batch[i]!;
          if (entry.state !== RUNNING) continue;
          this.#settle(entry);
          entry.resolve(results[i]!);
        }
      },
      (err: unknown) => {
        freed();
        this.#fail(batch, toSluiceError(err, 'SLUICE_E_MODEL_RUN_FAILED'));
      },
    );
  }

  #fail(batch: QueuedRequest<T, R>[], err: SluiceError): void {
    for (const entry of batch) {
      if (entry.state !== RUNNING) continue;
      this.#settle(entry);
      entry.reject(err);
    }
  }

  /** First request of a priority level that is still waiting; drops the expired and cancelled ones. */
  #liveHead(queue: RingQueue<QueuedRequest<T, R>>): QueuedRequest<T, R> | undefined {
    let head = queue.peek();
    while (head !== undefined && head.state !== QUEUED) {
      queue.shift();
      head = queue.peek();
    }
    return head;
  }

  #oldest(): number | undefined {
    let oldest: number | undefined;
    for (const queue of this.#queues) {
      const head = this.#liveHead(queue);
      if (head !== undefined && (oldest === undefined || head.enqueuedAt < oldest)) oldest = head.enqueuedAt;
    }
    return oldest;
  }

  /**
   * How long the batches holding every row ahead of a newcomer at `level` (its own `rows` included)
   * would take on this version's instances, from the learned cost curve, µs; 0 before any batch was
   * measured. A queue that is still filling has not stood long yet (#oldestUpTo) but already holds
   * more work than a deadline allows: the newcomer would be answered 504 at its deadline, after
   * waiting for it; refused now it can go elsewhere at once.
   */
  #drainUs(level: number, rows: number): number {
    if (this.#costW === 0) return 0;
    let ahead = rows;
    for (let i = 0; i < level; i++) ahead += this.#queueRows[i]!;
    const batches = Math.ceil(ahead / Math.max(1, this.#fullBatch()));
    return (batches * this.#fixedUs() + ahead * this.#perRowUs()) / this.options.instances;
  }

  /** Enqueue time of the oldest request waiting at priority `level` or above (Infinity: none). */
  #oldestUpTo(level: number): number {
    let oldest = Infinity;
    for (let i = 0; i < level; i++) {
      const head = this.#liveHead(this.#queues[i]!);
      if (head !== undefined && head.enqueuedAt < oldest) oldest = head.enqueuedAt;
    }
    return oldest;
  }

  #armTimer(due: number): void {
    if (this.#timer !== undefined && this.#timerDue <= due) return;
    this.#disarmTimer();
    this.#timerDue = due;
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = undefined;
      this.#schedule();
    }, Math.max(0, due - this.#clock.now()));
  }

  #disarmTimer(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  /** Leave the queue (expired or cancelled) without running. */
  #drop(entry: QueuedRequest<T, R>): void {
    this.#leave(entry);
    this.#settle(entry);
    this.#schedule();
  }

  /** Out of the pending counts (dispatched or dropped). */
  #leave(entry: QueuedRequest<T, R>): void {
    this.#pending--;
    this.#pendingRows -= entry.rows;
    this.#queueRows[entry.queue]! -= entry.rows;
    if (entry.background) {
      this.#backgroundPending--;
      this.#backgroundRows -= entry.rows;
    }
  }

  #settle(entry: QueuedRequest<T, R>): void {
    entry.state = DONE;
    if (entry.timer !== undefined) this.#clock.clearTimer(entry.timer);
    if (entry.onAbort) entry.signal!.removeEventListener('abort', entry.onAbort);
  }

  #expire(entry: QueuedRequest<T, R>): void {
    entry.timer = undefined;
    const err = new SluiceError('SLUICE_E_BATCH_TIMEOUT', 'request deadline (timeout_us) passed before the model answered');
    if (entry.state === QUEUED) {
      this.#drop(entry);
      entry.reject(err);
    } else if (entry.state === RUNNING) {
      this.#settle(entry);
      entry.reject(err);
    }
  }

  #cancel(entry: QueuedRequest<T, R>): void {
    if (entry.state !== QUEUED) return; // a running batch cannot be recalled; its answer is discarded
    this.#drop(entry);
    entry.reject(cancelled());
  }
}

/**
 * The entry whose promise is being made: the Promise constructor calls its executor at once, so one
 * shared executor hands it the settlers, and no closure is made per call (as the HTTP front's cork).
 */
let settling: QueuedRequest<unknown, unknown> | undefined;

function takeSettlers(resolve: (value: unknown) => void, reject: (err: SluiceError) => void): void {
  settling!.resolve = resolve;
  settling!.reject = reject;
  settling = undefined;
}

/** The abort listener's options: one object for every call. */
const ONCE = Object.freeze({ once: true });

/** Weight of the newest gap in the arrival average (about the last 8 arrivals count). */
const GAP_WEIGHT = 1 / 8;
/** Weight of the newest batch in the cost curve (about the last 32 batches count). */
const COST_WEIGHT = 1 / 32;

function queueFull(max: number): SluiceError {
  return new SluiceError('SLUICE_E_BATCH_QUEUE_FULL', `queue is full (max_queue_size ${max}); retry later`, { retryAfter: 1 });
}

function queueLate(standingUs: number, timeoutUs: number): SluiceError {
  return new SluiceError(
    'SLUICE_E_BATCH_QUEUE_LATE',
    `the queue has stood ${Math.round(standingUs / 1000)} ms, more than half the request's deadline (${Math.round(timeoutUs / 1000)} ms); retry later`,
    { retryAfter: 1, details: { queued_ms: Math.round(standingUs / 1000), timeout_ms: Math.round(timeoutUs / 1000) } },
  );
}

function queueTooLong(drainUs: number, timeoutUs: number): SluiceError {
  return new SluiceError(
    'SLUICE_E_BATCH_QUEUE_LATE',
    `the queue ahead would take ${Math.round(drainUs / 1000)} ms to run, more than half the request's deadline (${Math.round(timeoutUs / 1000)} ms); retry later`,
    { retryAfter: 1, details: { drain_ms: Math.round(drainUs / 1000), timeout_ms: Math.round(timeoutUs / 1000) } },
  );
}

function backgroundFull(rows: number): SluiceError {
  return new SluiceError('SLUICE_E_EXPLAIN_QUEUE_FULL', `the explanation queue is full (explain.max_queue_rows ${rows}); retry later`, { retryAfter: 1 });
}

function cancelled(): SluiceError {
  return new SluiceError('SLUICE_E_BATCH_CANCELLED', 'request was cancelled by the client');
}

function effectiveTimeout(defaultUs: number, requestUs: number | undefined): number {
  if (requestUs === undefined) return defaultUs;
  if (!Number.isInteger(requestUs) || requestUs < 0) return -1;
  if (requestUs === 0) return defaultUs;
  return defaultUs === 0 ? requestUs : Math.min(defaultUs, requestUs);
}

function validate(o: BatcherOptions): BatcherOptions {
  const check = (name: keyof BatcherOptions, ok: boolean): void => {
    if (!ok) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `batcher option ${name} is out of range`);
  };
  check('maxBatchSize', Number.isInteger(o.maxBatchSize) && o.maxBatchSize >= 0);
  check('maxQueueDelayUs', Number.isFinite(o.maxQueueDelayUs) && o.maxQueueDelayUs >= 0);
  check('maxQueueSize', Number.isInteger(o.maxQueueSize) && o.maxQueueSize >= 1);
  check('priorityLevels', Number.isInteger(o.priorityLevels) && o.priorityLevels >= 1);
  check('defaultPriorityLevel', Number.isInteger(o.defaultPriorityLevel) && o.defaultPriorityLevel >= 1 && o.defaultPriorityLevel <= o.priorityLevels);
  check('defaultTimeoutUs', Number.isFinite(o.defaultTimeoutUs) && o.defaultTimeoutUs >= 0);
  check('instances', Number.isInteger(o.instances) && o.instances >= 1);
  check('backgroundQueueRows', o.backgroundQueueRows === undefined || (Number.isInteger(o.backgroundQueueRows) && o.backgroundQueueRows >= 0));
  check('stagedBatches', o.stagedBatches === undefined || (Number.isInteger(o.stagedBatches) && o.stagedBatches >= 0));
  check('preferredBatchSizes', o.preferredBatchSizes.every((b, i, a) => Number.isInteger(b) && b >= 1 && (i === 0 || a[i - 1]! < b)));
  return o;
}
