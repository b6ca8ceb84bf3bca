// What the gateway admits at its front, before it parses anything (docs/budgets.md): a cap on open
// calls and WebSocket connections, a whole-process budget for buffered request bodies (HTTP bodies
// and held WebSocket messages alike), a deadline for a whole body, and shedding when the event loop
// lags (Envoy's overload manager, in small). Past any of them the gateway refuses at once with a
// coded 503 (408 for a body that came too slowly), Retry-After where a retry may help, and never
// touches a call it already admitted.
//
// Each decision is a small class over plain numbers and a clock (BatcherClock, microseconds), tested
// with a fake clock; `Admission` holds one of each for a gateway and is found through its uWS app
// (admissionOf), so every route registered on the app, extensions' included, gets the same front.
import { performance } from 'node:perf_hooks';
import type { TemplatedApp } from 'uWebSockets.js';
import { SluiceError } from '../../lib/errors.js';
import { systemClock, type BatcherClock } from '../batching/clock.js';
import { cgroupCpuLimit } from '../../lib/cpu-limit.js';

export interface BudgetSettings {
  /** Open HTTP calls (headers read, not answered) plus open WebSocket connections; past it, 503 and close. */
  maxConnections: number;
  /** Request body bytes held at once in the process (reserved on the declared length); past it, 503. */
  bodyBudgetBytes: number;
  /** A whole request body must arrive within this many ms of its headers, however it trickles; else 408. */
  bodyTimeoutMs: number;
  /** Event-loop lag past which new calls are refused before parsing (0 = never shed). */
  maxEventLoopLagMs: number;
  /** Image decodes running at once (the libuv pool is small); past it, 503. */
  maxConcurrentDecodes: number;
  /** Pixels (declared in the image headers) one request may ask to decode. */
  maxPixelsPerRequest: number;
  /**
   * The kernel's accept queue for the listening socket (uSockets asks for 512; set after listen,
   * capped by net.core.somaxconn): new connections past it are dropped and retried a second later.
   * 0 (the default): FULL_BACKLOG scaled by the share of a core the process may use (listenBacklogFor).
   */
  listenBacklog: number;
  /**
   * How busy (event-loop utilization and CPU cores, 0..1) the gateway must be for lag to shed
   * (default MIN_BUSY). Not a flag: a test that makes lag on a loaded machine sets 0.
   */
  minBusy?: number | undefined;
}

export const BUDGET_DEFAULTS: BudgetSettings = {
  maxConnections: 4096,
  bodyBudgetBytes: 512 * 1024 * 1024,
  bodyTimeoutMs: 30_000,
  maxEventLoopLagMs: 50,
  maxConcurrentDecodes: 4,
  maxPixelsPerRequest: 64 * 1024 * 1024,
  listenBacklog: 0,
};

/** The accept queue of a gateway with a core or more to itself. */
export const FULL_BACKLOG = 4096;

/**
 * The accept queue for a gateway that may use `capacity` of a core (cpuCapacity). A connection waits
 * in it about backlog / (the rate the gateway accepts at), and that rate scales with its CPU. Under a
 * quarter-core quota at 2x overload a queue of 4096 sat full while every call timed out, and the
 * gateway stayed behind for the rest of the run in 2 of 4 runs (1024: 0 of 4; docs/budgets.md).
 */
export function listenBacklogFor(capacity: number): number {
  return Math.max(128, Math.round(FULL_BACKLOG * Math.min(1, capacity)));
}

/** Seconds a refused client is told to wait. */
const RETRY_AFTER = 1;

/** Bodies up to this size may use the whole budget; larger ones leave SMALL_SHARE of it free. */
export const SMALL_BODY_BYTES = 64 * 1024;
const SMALL_SHARE = 1 / 8;

/**
 * Bytes of request bodies held in the process. A body reserves its declared length before any byte
 * of it is read (or, without one, what arrived so far), and gives it back once its call is answered.
 * Large bodies may take at most 7/8 of the budget, so slow large uploads cannot starve small calls.
 */
export class BodyBudget {
  readonly limit: number;
  readonly #largeLimit: number;
  #reserved = 0;

  constructor(limit: number) {
    if (!(Number.isSafeInteger(limit) && limit > 0)) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `bodyBudgetBytes must be a positive integer, got ${limit}`);
    this.limit = limit;
    this.#largeLimit = Math.floor(limit * (1 - SMALL_SHARE));
  }

  get reserved(): number {
    return this.#reserved;
  }

  /** Reserve `bytes` more for a body that holds `held` already; false (nothing reserved) when that passes the budget. */
  tryReserve(bytes: number, held = 0): boolean {
    const next = this.#reserved + bytes;
    if (next > (held + bytes > SMALL_BODY_BYTES ? this.#largeLimit : this.limit)) return false;
    this.#reserved = next;
    return true;
  }

  release(bytes: number): void {
    this.#reserved -= bytes;
  }

  refusal(bytes: number): SluiceError {
    return new SluiceError('SLUICE_E_BUDGET_BODY_BUSY', `the gateway holds ${this.#reserved} bytes of request bodies; ${bytes} more would pass its budget of ${this.limit}`, {
      retryAfter: RETRY_AFTER, details: { budget_bytes: this.limit },
    });
  }
}

/**
 * A body being read: expire() answers it with 408 and closes its connection. While it is pending
 * it is linked into its BodyDeadlines (the links are that list's own fields).
 */
export abstract class BodyRead {
  /** When its headers came (the deadlines' clock), set before it is added. */
  startedUs = 0;
  prevRead: BodyRead | null = null;
  nextRead: BodyRead | null = null;
  listed = false;
  abstract expire(err: SluiceError): void;
}

/**
 * Bodies being read, each with the time its headers came. A sweep (one timer for all of them, not
 * one per call) expires those older than the deadline; uWS's own idle timer would reset on each
 * chunk, so a byte every few seconds kept a body open forever. The reads are a linked list in the
 * order they started, so adding and removing one (twice per call) touches no hash table, and a
 * sweep stops at the first read still in time.
 */
export class BodyDeadlines {
  readonly timeoutUs: number;
  readonly #clock: BatcherClock;
  #head: BodyRead | null = null;
  #tail: BodyRead | null = null;
  #pending = 0;
  #timer: unknown = undefined;

  constructor(timeoutMs: number, clock: BatcherClock = systemClock) {
    if (!(Number.isSafeInteger(timeoutMs) && timeoutMs > 0)) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `bodyTimeoutMs must be a positive integer, got ${timeoutMs}`);
    this.timeoutUs = timeoutMs * 1000;
    this.#clock = clock;
  }

  get pending(): number {
    return this.#pending;
  }

  now(): number {
    return this.#clock.now();
  }

  /** Track `read` from now on (its startedUs is at least every earlier read's). */
  add(read: BodyRead): void {
    if (read.listed) return;
    read.listed = true;
    read.prevRead = this.#tail;
    read.nextRead = null;
    if (this.#tail === null) this.#head = read;
    else this.#tail.nextRead = read;
    this.#tail = read;
    this.#pending++;
    if (this.#timer === undefined) this.#arm();
  }

  /** Stop tracking `read` (a no-op when it is not tracked). */
  delete(read: BodyRead): void {
    if (!read.listed) return;
    read.listed = false;
    const prev = read.prevRead;
    const next = read.nextRead;
    if (prev === null) this.#head = next;
    else prev.nextRead = next;
    if (next === null) this.#tail = prev;
    else next.prevRead = prev;
    read.prevRead = null;
    read.nextRead = null;
    this.#pending--;
  }

  /** Expire every read older than the deadline at `now`; returns how many. */
  sweep(now = this.#clock.now()): number {
    let n = 0;
    while (this.#head !== null && now - this.#head.startedUs >= this.timeoutUs) {
      const read = this.#head;
      this.delete(read);
      n++;
      read.expire(new SluiceError('SLUICE_E_BUDGET_BODY_TIMEOUT', `the request body did not arrive within ${this.timeoutUs / 1000} ms`, {
        details: { body_timeout_ms: this.timeoutUs / 1000 },
      }));
    }
    return n;
  }

  /** Sweep at a quarter of the deadline (so a body is cut off within 1.25x of it) while reads are pending. */
  #arm(): void {
    const step = Math.max(1000, Math.min(this.timeoutUs / 4, 1_000_000));
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = undefined;
      this.sweep();
      if (this.#pending > 0) this.#arm();
    }, step);
    (this.#timer as { unref?: () => void } | undefined)?.unref?.();
  }

  close(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }
}

/** Below this busy share (of the loop, and of a core) lag is not the gateway's own load: it is starved of CPU. */
export const MIN_BUSY = 0.8;

/** The share of new calls the front admits never falls below this after an overload (1 in 64). */
export const MIN_ADMIT = 1 / 64;
/** Each tick on time (lag under half the bound) admits this much more of the new calls: all again within a second of 20 ms ticks. */
export const ADMIT_STEP = 1 / 50;

/** The limit is read again every 5 s (250 ticks of 20 ms): a pod's CPU limit can be resized in place. */
const CAPACITY_EVERY_TICKS = 250;

/** The share of a core the process may use: its cgroup CPU quota when below one core, else 1. */
export function cpuCapacity(limit = cgroupCpuLimit()): number {
  return limit === undefined ? 1 : Math.max(0.01, Math.min(1, limit));
}

/**
 * How busy the gateway was over `wallUs`: the smaller of its loop's utilization and the CPU it got
 * (all threads, `cpuUs`) as a share of `capacity` (cpuCapacity).
 */
export function busyShare(loopUtilization: number, cpuUs: number, wallUs: number, capacity: number): number {
  return Math.min(loopUtilization, cpuUs / Math.max(1, wallUs) / capacity);
}

/**
 * Event-loop lag from a cheap timer: every `intervalMs` a tick notes how late it ran. At any moment
 * the lag is the larger of the last tick's lateness and how overdue the next tick is now, so a long
 * turn of the loop (thousands of requests read in one go) is seen by the requests read late in it,
 * not only after it ends. Overload is lag that lasts: two of the last two ticks and the overdue
 * time now past the bound, so one stall (a full GC, a model loading) sheds nothing; and lag of a
 * busy gateway: the smaller of its event-loop utilization (performance.eventLoopUtilization) and
 * the cores of CPU the process got (process.cpuUsage over wall time, as a share of its cgroup CPU
 * quota when that is below one core), smoothed over the ticks, at least MIN_BUSY. A gateway
 * starved of CPU by other processes lags too, but with an idle loop or little CPU: refusing its
 * calls would not make it faster, so it serves them late instead.
 *
 * Between "all" and "none" the front admits a share of new calls that moves as TCP's congestion
 * window does: halved on every tick that finds the overload above, up by ADMIT_STEP on every tick
 * on time, and back to all at once on a tick on time that finds the gateway below MIN_BUSY (the load
 * dropped; MIN_BUSY, not the minBusy a test may lower). Admitting every call again the moment the
 * lag cleared let a gateway whose front is its bottleneck take a burst it could not serve: the next
 * turns of its loop ran for seconds (libuv reads up to 48 x 1024 ready sockets before it runs a
 * timer), and the calls it had admitted waited for them (docs/budgets.md).
 */
export class LagMonitor {
  readonly maxLagUs: number;
  readonly #intervalUs: number;
  readonly #clock: BatcherClock;
  #due: number;
  #lastLagUs = 0;
  #prevLagUs = 0;
  /** How busy the gateway was, smoothed over ticks (0..1). */
  #utilization = 0;
  #timer: unknown = undefined;
  /** The share of new calls admitted (MIN_ADMIT..1), and the credit that spaces them evenly. */
  #admit = 1;
  #credit = 0;

  readonly minBusy: number;

  constructor(maxLagMs: number, clock: BatcherClock = systemClock, intervalMs = 20, minBusy = MIN_BUSY) {
    if (!(Number.isFinite(maxLagMs) && maxLagMs >= 0)) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `maxEventLoopLagMs must be >= 0, got ${maxLagMs}`);
    this.maxLagUs = maxLagMs * 1000;
    this.minBusy = minBusy;
    this.#intervalUs = intervalMs * 1000;
    this.#clock = clock;
    this.#due = clock.now() + this.#intervalUs;
  }

  /** Start ticking (a real gateway; tests call tick() themselves). */
  start(): void {
    if (this.maxLagUs === 0 || this.#timer !== undefined) return;
    this.#due = this.#clock.now() + this.#intervalUs;
    let last = performance.eventLoopUtilization();
    let lastCpu = process.cpuUsage();
    let lastWall = this.#clock.now();
    // A container's CPU limit below one core: at its quota the gateway is as busy as it can be.
    let capacity = cpuCapacity();
    let ticks = 0;
    const loop = (): void => {
      const elu = performance.eventLoopUtilization();
      const cpu = process.cpuUsage();
      const now = this.#clock.now();
      if (++ticks % CAPACITY_EVERY_TICKS === 0) capacity = cpuCapacity();
      const cpuUs = cpu.user - lastCpu.user + cpu.system - lastCpu.system;
      this.tick(now, busyShare(performance.eventLoopUtilization(elu, last).utilization, cpuUs, now - lastWall, capacity));
      last = elu;
      lastCpu = cpu;
      lastWall = now;
      this.#timer = this.#clock.setTimer(loop, this.#intervalUs);
      (this.#timer as { unref?: () => void }).unref?.();
    };
    this.#timer = this.#clock.setTimer(loop, this.#intervalUs);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  /** The timer ran: note how late, how busy the gateway was since the last tick (0..1), and when the next is due. */
  tick(now = this.#clock.now(), utilization = 1): void {
    // Weighted by time, so a long late tick counts for what it covered.
    const covered = now - (this.#due - this.#intervalUs);
    const w = Math.min(1, covered / (5 * this.#intervalUs));
    this.#utilization += w * (utilization - this.#utilization);
    this.#prevLagUs = this.#lastLagUs;
    this.#lastLagUs = Math.max(0, now - this.#due);
    this.#due = now + this.#intervalUs;
    const max = this.maxLagUs;
    if (max === 0) return;
    if (this.#prevLagUs > max && this.#lastLagUs > max && this.#utilization >= this.minBusy) this.#admit = Math.max(MIN_ADMIT, this.#admit / 2);
    else if (this.#lastLagUs <= max / 2) this.#admit = this.#utilization < MIN_BUSY ? 1 : Math.min(1, this.#admit + ADMIT_STEP);
  }

  /** The share of new calls the front admits now (1: all). */
  get admitShare(): number {
    return this.#admit;
  }

  /** Whether the next new call is within the admitted share: admitted calls are spaced evenly among the refused. */
  admits(): boolean {
    if (this.#admit >= 1) return true;
    this.#credit += this.#admit;
    if (this.#credit < 1) return false;
    this.#credit -= 1;
    return true;
  }

  /** Lag now, in microseconds. */
  lagUs(now = this.#clock.now()): number {
    return Math.max(this.#lastLagUs, now - this.#due);
  }

  /** How busy the gateway was, smoothed: the smaller of event-loop utilization and CPU cores got. */
  get utilization(): number {
    return this.#utilization;
  }

  overloaded(now = this.#clock.now()): boolean {
    const max = this.maxLagUs;
    if (max === 0 || this.#utilization < this.minBusy) return false;
    const past = (this.#prevLagUs > max ? 1 : 0) + (this.#lastLagUs > max ? 1 : 0) + (now - this.#due > max ? 1 : 0);
    return past >= 2;
  }
}


/** Why the front refused a call (the `reason` label of sluice_front_refused_total). */
export type RefusalReason = 'overloaded' | 'connections' | 'body_budget' | 'body_timeout';

/** A gateway's front: one of each budget above, and counts of what it refused. */
export class Admission {
  readonly settings: BudgetSettings;
  readonly bodies: BodyBudget;
  readonly deadlines: BodyDeadlines;
  readonly lag: LagMonitor;
  /** Open HTTP calls plus open WebSocket connections. */
  open = 0;
  /**
   * Set when the gateway starts draining (drain()): every answer from then on says `Connection:
   * close` and closes its connection after it, so a client (nginx's keep-alive pool) stops reusing
   * a connection the gateway will close at its exit rather than write its next call on it as it goes.
   */
  closeConnections = false;
  readonly refused: Record<RefusalReason, number> = { overloaded: 0, connections: 0, body_budget: 0, body_timeout: 0 };
  #capped: SluiceError | undefined;
  #overloaded: SluiceError | undefined;
  readonly #clock: BatcherClock;
  /** While draining: when the front last saw a call, and the end of the drain timeout (clock µs). */
  #lastCallUs = 0;
  #drainDeadlineUs = 0;

  constructor(settings: Partial<BudgetSettings> = {}, clock: BatcherClock = systemClock) {
    this.settings = { ...BUDGET_DEFAULTS, ...settings };
    const max = this.settings.maxConnections;
    if (!(Number.isSafeInteger(max) && max > 0)) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `maxConnections must be a positive integer, got ${max}`);
    const backlog = this.settings.listenBacklog;
    if (!(Number.isSafeInteger(backlog) && backlog >= 0 && backlog <= 65_535)) {
      throw new SluiceError('SLUICE_E_CONFIG_INVALID', `listenBacklog must be an integer from 0 (by the CPU quota) to 65535, got ${backlog}`, { details: { flag: 'listen-backlog' } });
    }
    if (backlog === 0) this.settings.listenBacklog = listenBacklogFor(cpuCapacity());
    this.bodies = new BodyBudget(this.settings.bodyBudgetBytes);
    this.deadlines = new BodyDeadlines(this.settings.bodyTimeoutMs, clock);
    this.lag = new LagMonitor(this.settings.maxEventLoopLagMs, clock, 20, this.settings.minBusy);
    this.#clock = clock;
  }

  start(): void {
    this.lag.start();
  }

  /** The gateway drains for `timeoutMs` at most: answers close their connections, and calls are timed for quiet(). */
  drain(timeoutMs: number): void {
    this.closeConnections = true;
    this.#lastCallUs = this.#clock.now();
    this.#drainDeadlineUs = this.#lastCallUs + timeoutMs * 1000;
  }

  /**
   * Resolves once no call has reached the front for `quietMs` since drain(), or when the drain's
   * timeout is up. A balancer stops sending calls once it has counted the drain's 503s
   * (nginx: max_fails); closing the port and the connections before that quiet would reset the
   * connections it is still opening or writing on (nginx logs "recv() failed (104: Connection
   * reset by peer)" and resends the call).
   */
  quiet(quietMs: number): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        const due = Math.min(this.#lastCallUs + quietMs * 1000, this.#drainDeadlineUs);
        const now = this.#clock.now();
        if (now >= due) resolve();
        else this.#clock.setTimer(check, due - now);
      };
      check();
    });
  }

  close(): void {
    this.lag.stop();
    this.deadlines.close();
  }

  /**
   * The front's verdict on a new call or WebSocket upgrade, before anything of it is parsed:
   * undefined to admit it (the caller then counts it open), else the error to refuse it with. The
   * two refusals are made once and shared (no Error and stack trace per refused call).
   */
  front(): SluiceError | undefined {
    if (this.closeConnections) this.#lastCallUs = this.#clock.now();
    if (this.open >= this.settings.maxConnections) {
      this.refused.connections++;
      return (this.#capped ??= new SluiceError('SLUICE_E_BUDGET_CONNECTIONS', `the gateway has its limit of ${this.settings.maxConnections} calls and connections open`, {
        retryAfter: RETRY_AFTER, details: { max_connections: this.settings.maxConnections },
      }));
    }
    if (this.lag.overloaded() || !this.lag.admits()) {
      this.refused.overloaded++;
      return (this.#overloaded ??= new SluiceError('SLUICE_E_BUDGET_OVERLOADED', `the gateway is overloaded: its event loop has been more than ${this.settings.maxEventLoopLagMs} ms late, and it admits new calls again as it catches up`, {
        retryAfter: RETRY_AFTER, details: { max_event_loop_lag_ms: this.settings.maxEventLoopLagMs },
      }));
    }
    return undefined;
  }

  /** The refusal of a body (HTTP or WebSocket) the body budget has no room for, counted. */
  bodyRefusal(bytes: number): SluiceError {
    this.refused.body_budget++;
    return this.bodies.refusal(bytes);
  }
}

const admissions = new WeakMap<TemplatedApp, Admission>();

/** Give `app` its front; routes registered on it afterwards go through it. */
export function setAdmission(app: TemplatedApp, admission: Admission): void {
  admissions.set(app, admission);
}

/** The front of `app`, if it has one (an app built by createHttpApp does). */
export function admissionOf(app: TemplatedApp): Admission | undefined {
  return admissions.get(app);
}
