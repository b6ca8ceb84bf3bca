// Copies of client calls run on the other version of a rollout (CANARY both ways, SHADOW stable →
// candidate), after the client's answer is on its way: the copy is started from a macrotask, so the
// transport has written the answer first. A copy never queues behind real work: when the target
// version has a full batch waiting, or too many copies in flight, it is dropped and counted
// (sluice_mirror_dropped_total). It runs at the target's lowest priority level, its answer is
// compared with the client's and discarded, and its failures reach nobody but the window.
import { isSluiceError, toSluiceError } from '../../lib/errors.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { LoadedVersion, PreparedRequest } from '../models/loaded-version.js';
import type { ModelRepository } from '../models/repository.js';
import type { Tensor } from '../models/tensors.js';
import type { RolloutRoute } from '../routing/rollout-route.js';
import type { TrafficWindows, VersionTraffic } from '../routing/traffic.js';
import { shapeKey } from '../batching/assemble.js';
import { answersAgree } from './agreement.js';
import { prepare } from './prepare.js';

/** Copies of one version in flight at most (beyond: dropped). */
const MAX_COPIES_IN_FLIGHT = 64;

/** A copy decided while its call runs: the call's inputs, taken before they moved to the worker. */
export interface PendingCopy {
  model: string;
  target: string;
  route: RolloutRoute;
  inputs: Tensor[];
}

/** A copy waiting for its macrotask, with the answer the client got. */
interface Copy extends PendingCopy {
  answer: Tensor[];
  batched: boolean;
}

export class Mirror {
  readonly #repository: ModelRepository;
  readonly #traffic: (v: LoadedVersion) => VersionTraffic;
  readonly #metrics: GatewayMetrics;
  readonly #inFlight = new Map<LoadedVersion, number>();
  readonly #draining: () => boolean;

  constructor(repository: ModelRepository, metrics: GatewayMetrics, traffic: (v: LoadedVersion) => VersionTraffic, draining: () => boolean) {
    this.#repository = repository;
    this.#metrics = metrics;
    this.#traffic = traffic;
    this.#draining = draining;
  }

  /**
   * Called with a client call's validated inputs before they are queued (the batch moves them to
   * the worker, and the transport reuses its body buffer once answered): copies them, unless the
   * target version is busy or not ready (then the copy is dropped and counted).
   */
  prepare(model: string, target: string, route: RolloutRoute, prepared: PreparedRequest): PendingCopy | undefined {
    const v = this.#repository.model(model)?.versions.get(target);
    if (v === undefined || v.state !== 'READY' || this.#busy(v)) {
      this.#metrics.mirrorDropped(model, target);
      return undefined;
    }
    return { model, target, route, inputs: prepared.inputs.map(copyTensor) };
  }

  /** The client's call succeeded with `answer`: run the copy once the answer has been written. */
  send(copy: PendingCopy, answer: Tensor[], batched: boolean): void {
    setImmediate(runCopy, this, { ...copy, answer, batched } satisfies Copy);
  }

  /** Has a full batch waiting, or as many copies in flight as it may. */
  #busy(v: LoadedVersion): boolean {
    const o = v.batcher.options;
    const full = o.maxBatchSize === 0 ? 1 : o.preferredBatchSizes.length > 0 ? o.preferredBatchSizes[o.preferredBatchSizes.length - 1]! : o.maxBatchSize;
    return v.batcher.queueDepth >= full || (this.#inFlight.get(v) ?? 0) >= MAX_COPIES_IN_FLIGHT;
  }

  async run(c: Copy): Promise<void> {
    const v = this.#repository.model(c.model)?.versions.get(c.target);
    if (this.#draining() || v === undefined || v.state !== 'READY' || this.#busy(v)) {
      this.#metrics.mirrorDropped(c.model, c.target);
      return;
    }
    const started = performance.now();
    this.#inFlight.set(v, (this.#inFlight.get(v) ?? 0) + 1);
    const traffic = this.#traffic(v);
    traffic.follow(c.route.window);
    try {
      const prepared = prepare(v, { model: c.model, inputs: c.inputs });
      const tensors = await v.enqueue(prepared, {
        rows: prepared.rows,
        shapeKey: v.batched && v.variableShape ? shapeKey(prepared.inputs, true) : '',
        priority: v.batcher.options.priorityLevels,
      });
      traffic.answered(tensors);
      const agreed = answersAgree(c.answer, tensors, c.route.agreementTolerance, c.batched);
      traffic.mirrored(performance.now() - started, false, true, agreed);
    } catch (err) {
      const e = toSluiceError(err);
      // Refused for room (the queue filled, the version began unloading): a drop, not a failure.
      if (isSluiceError(err) && (e.code === 'SLUICE_E_BATCH_QUEUE_FULL' || e.code === 'SLUICE_E_MODEL_NOT_READY')) this.#metrics.mirrorDropped(c.model, c.target);
      else traffic.mirrored(performance.now() - started, true, false, false);
    } finally {
      const n = this.#inFlight.get(v)! - 1;
      if (n === 0) this.#inFlight.delete(v);
      else this.#inFlight.set(v, n);
    }
  }
}

function runCopy(mirror: Mirror, c: Copy): void {
  void mirror.run(c);
}

function copyTensor(t: Tensor): Tensor {
  const data = Array.isArray(t.data) ? t.data.map((b) => b.slice()) : t.data.slice();
  return { name: t.name, datatype: t.datatype, shape: t.shape.slice(), data };
}
