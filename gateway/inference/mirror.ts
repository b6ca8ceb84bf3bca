// Copies of client calls run on the other version of a rollout (CANARY both ways, SHADOW stable →
// candidate). A copy takes the call's inputs before they are queued (the batch moves them to the
// worker), is held once the client's answer is on its way, and runs with the other copies held for
// the same version as ONE request of many rows, every COPY_BATCH_MS or when a full batch is held:
// bench/shadow measured that copies sent one by one, like client calls, cost the clients' latency
// on 2 shared cores (a worker round trip each), while the model's own work per row is tiny.
// A copy never runs beside clients: while some inference worker has a task, the version has a full
// batch of client calls waiting or a copy batch still running, held copies wait (at most
// MAX_HOLD_MS, at most one batch of rows), then are dropped and counted (sluice_mirror_dropped_total). Copies run at the version's lowest priority level; their
// answers are compared with the clients' and discarded; their failures reach nobody but the window.
import { SluiceError, toSluiceError } from '../../lib/errors.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { LoadedVersion, PreparedRequest } from '../models/loaded-version.js';
import type { ModelRepository } from '../models/repository.js';
import { DATATYPE_INFO, type NumericArray, type Tensor } from '../models/tensors.js';
import type { RolloutRoute } from '../routing/rollout-route.js';
import type { VersionTraffic } from '../routing/traffic.js';
import { shapeKey } from '../batching/assemble.js';
import { answersAgree, answersAgreeAt } from './agreement.js';
import { prepare } from './prepare.js';

/** How long copies are held to run together. */
const COPY_BATCH_MS = 20;
/** Copies wait this long at most for the workers to be idle, then are dropped. */
const MAX_HOLD_MS = 200;
/** Rows held per version at most when its model does not batch (one request each). */
const MAX_UNBATCHED_HELD = 64;

/** A copy decided while its call runs: the call's inputs, taken before they moved to the worker. */
export class PendingCopy {
  readonly model: string;
  readonly target: LoadedVersion;
  readonly route: RolloutRoute;
  readonly inputs: Tensor[];
  readonly rows: number;
  /** Set when the client's call succeeded: its answer, and whether the answering version batches. */
  answer: Tensor[] = [];
  batched = false;

  constructor(model: string, target: LoadedVersion, route: RolloutRoute, inputs: Tensor[], rows: number) {
    this.model = model;
    this.target = target;
    this.route = route;
    this.inputs = inputs;
    this.rows = rows;
  }
}

type Held = PendingCopy;

class HeldCopies {
  copies: Held[] = [];
  rows = 0;
  /** performance.now() when the oldest held copy was held. */
  since = 0;
  timer: NodeJS.Timeout | undefined = undefined;
  running = false;
}

export class Mirror {
  readonly #repository: ModelRepository;
  readonly #traffic: (v: LoadedVersion) => VersionTraffic;
  readonly #metrics: GatewayMetrics;
  readonly #held = new Map<LoadedVersion, HeldCopies>();
  readonly #dropped = new WeakMap<LoadedVersion, { inc(value?: number): void }>();
  readonly #draining: () => boolean;

  constructor(repository: ModelRepository, metrics: GatewayMetrics, traffic: (v: LoadedVersion) => VersionTraffic, draining: () => boolean) {
    this.#repository = repository;
    this.#metrics = metrics;
    this.#traffic = traffic;
    this.#draining = draining;
  }

  /**
   * Called with a client call's validated inputs before they are queued: copies them, unless the
   * target version is not ready or already holds as many copies as it can run (then the copy is
   * dropped and counted).
   */
  prepare(model: string, target: string, route: RolloutRoute, prepared: PreparedRequest): PendingCopy | undefined {
    const v = this.#repository.model(model)?.versions.get(target);
    if (v === undefined) {
      this.#metrics.mirrorDropped(model, target).inc();
      return undefined;
    }
    if (v.state !== 'READY' || (this.#held.get(v)?.rows ?? 0) >= capacity(v)) {
      this.#drop(v, 1);
      return undefined;
    }
    return new PendingCopy(model, v, route, prepared.inputs.map(copyTensor), prepared.rows);
  }

  /** The client's call succeeded with `answer` (not yet written): hold the copy for the next copy batch. */
  send(copy: PendingCopy, answer: Tensor[], batched: boolean): void {
    const v = copy.target;
    let held = this.#held.get(v);
    if (held === undefined) {
      held = new HeldCopies();
      this.#held.set(v, held);
    }
    if (held.rows + copy.rows > capacity(v)) {
      this.#drop(v, 1);
      return;
    }
    if (held.copies.length === 0) held.since = performance.now();
    copy.answer = answer;
    copy.batched = batched;
    held.copies.push(copy);
    held.rows += copy.rows;
    // Full: run from a macrotask all the same, so the answer that filled it is written first.
    if (held.rows >= capacity(v)) {
      if (held.timer !== undefined) clearTimeout(held.timer);
      held.timer = setTimeout(flushHeld, 0, this, v);
    } else if (held.timer === undefined) {
      held.timer = setTimeout(flushHeld, COPY_BATCH_MS, this, v);
      held.timer.unref();
    }
  }

  /** Run what `v` holds; while it is busy, wait up to MAX_HOLD_MS more, then drop. */
  async flush(v: LoadedVersion): Promise<void> {
    const held = this.#held.get(v);
    if (held === undefined) return;
    held.timer = undefined;
    if (held.copies.length === 0) return;
    // Copies held for a rollout that ended (or changed its versions) are not run.
    const gone = this.#draining() || v.state !== 'READY' || this.#repository.model(v.name)?.routing.rollout?.window !== held.copies[0]!.route.window;
    if (!gone && (held.running || this.#busy(v)) && performance.now() - held.since < MAX_HOLD_MS) {
      held.timer = setTimeout(flushHeld, COPY_BATCH_MS / 4, this, v);
      held.timer.unref();
      return;
    }
    const copies = held.copies;
    held.copies = [];
    held.rows = 0;
    if (gone || held.running || this.#busy(v)) {
      this.#drop(v, copies.length);
      if (!held.running && v.state !== 'READY') this.#held.delete(v);
      return;
    }
    held.running = true;
    const traffic = this.#traffic(v);
    traffic.follow(copies[0]!.route.window);
    try {
      // Together only when every client answer has rows too (its version batches, as this one does).
      if (v.batched && !v.variableShape && copies.length > 1 && copies.every((c) => c.batched)) await this.#runTogether(v, copies, traffic);
      else await Promise.all(copies.map((c) => this.#runAlone(v, c, traffic)));
    } finally {
      held.running = false;
      if (v.state !== 'READY') this.#held.delete(v);
    }
  }

  #drop(v: LoadedVersion, n: number): void {
    let counter = this.#dropped.get(v);
    if (counter === undefined) {
      counter = this.#metrics.mirrorDropped(v.name, v.version);
      this.#dropped.set(v, counter);
    }
    counter.inc(n);
  }

  /** Some worker has a task, or a full batch of client calls waits for this version. */
  #busy(v: LoadedVersion): boolean {
    if (!this.#repository.workersIdle) return true;
    const o = v.batcher.options;
    const full = o.maxBatchSize === 0 ? 1 : o.preferredBatchSizes.length > 0 ? o.preferredBatchSizes[o.preferredBatchSizes.length - 1]! : o.maxBatchSize;
    return v.batcher.queueDepth >= full;
  }

  /** Every copy as one request of many rows; each copy then compared on its own rows. */
  async #runTogether(v: LoadedVersion, copies: Held[], traffic: VersionTraffic): Promise<void> {
    const started = performance.now();
    let rows = 0;
    for (const c of copies) rows += c.rows;
    let tensors: Tensor[];
    try {
      const prepared = prepare(v, { model: v.name, inputs: concatRows(copies.map((c) => c.inputs), rows) });
      tensors = await v.enqueue(prepared, { rows: prepared.rows, shapeKey: '', priority: v.batcher.options.priorityLevels });
    } catch (err) {
      this.#failed(v, copies, err, started, traffic);
      return;
    }
    const ms = performance.now() - started;
    traffic.answered(tensors);
    let at = 0;
    for (const c of copies) {
      traffic.mirrored(ms, false, true, answersAgreeAt(c.answer, tensors, at, c.route.agreementTolerance));
      at += c.rows;
    }
  }

  async #runAlone(v: LoadedVersion, c: Held, traffic: VersionTraffic): Promise<void> {
    const started = performance.now();
    try {
      const prepared = prepare(v, { model: v.name, inputs: c.inputs });
      const tensors = await v.enqueue(prepared, {
        rows: prepared.rows,
        shapeKey: v.batched && v.variableShape ? shapeKey(prepared.inputs, true) : '',
        priority: v.batcher.options.priorityLevels,
      });
      traffic.answered(tensors);
      traffic.mirrored(performance.now() - started, false, true, answersAgree(c.answer, tensors, c.route.agreementTolerance, c.batched));
    } catch (err) {
      this.#failed(v, [c], err, started, traffic);
    }
  }

  /** Refused for room (queue full, the version began unloading): dropped. Anything else: the copies failed. */
  #failed(v: LoadedVersion, copies: Held[], err: unknown, started: number, traffic: VersionTraffic): void {
    const e = toSluiceError(err);
    const dropped = err instanceof SluiceError && (e.code === 'SLUICE_E_BATCH_QUEUE_FULL' || e.code === 'SLUICE_E_MODEL_NOT_READY');
    const ms = performance.now() - started;
    if (dropped) this.#drop(v, copies.length);
    else for (let i = 0; i < copies.length; i++) traffic.mirrored(ms, true, false, false);
  }
}

function flushHeld(mirror: Mirror, v: LoadedVersion): void {
  void mirror.flush(v);
}

/** Rows of copies a version holds at most: one batch. */
function capacity(v: LoadedVersion): number {
  return v.batched ? v.config.max_batch_size : MAX_UNBATCHED_HELD;
}

function copyTensor(t: Tensor): Tensor {
  const data = Array.isArray(t.data) ? t.data.map((b) => b.slice()) : t.data.slice();
  return { name: t.name, datatype: t.datatype, shape: t.shape.slice(), data };
}

/** The copies' inputs (same names, order and row shape) stacked along the batch dimension. */
function concatRows(requests: Tensor[][], rows: number): Tensor[] {
  return requests[0]!.map((proto, i) => {
    const shape = [rows, ...proto.shape.slice(1)];
    if (Array.isArray(proto.data)) return { name: proto.name, datatype: proto.datatype, shape, data: requests.flatMap((r) => r[i]!.data as Uint8Array[]) };
    let total = 0;
    for (const r of requests) total += (r[i]!.data as NumericArray).length;
    const data = new DATATYPE_INFO[proto.datatype].array!(total);
    let offset = 0;
    for (const r of requests) {
      const src = r[i]!.data as NumericArray;
      (data as Float32Array).set(src as Float32Array, offset);
      offset += src.length;
    }
    return { name: proto.name, datatype: proto.datatype, shape, data };
  });
}
