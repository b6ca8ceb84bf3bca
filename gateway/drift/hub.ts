// DriftHub: the gateway main thread's side of drift. Every merge interval it scores what the
// workers sent since the last tick (DriftMonitor.evaluate) and asks every worker's observers for
// their windows (a flush on the drift channel). A monitor exists per model version with a drift
// config: created eagerly by ensure() when the gateway loads the version, or on the first snapshot
// from a version folder inside this gateway's repository.
import { BroadcastChannel } from 'node:worker_threads';
import { join, resolve, sep } from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger } from '../../lib/log.js';
import { toSluiceError } from '../../lib/errors.js';
import type { DriftConfig } from '../models/config.js';
import { DRIFT_CHANNEL, type DriftMessage, type FlushMessage, type SnapshotMessage } from './channel.js';
import { compileProfile, readProfile } from './compile.js';
import { DriftMetrics } from './metrics.js';
import { DriftMonitor, type DriftReport } from './monitor.js';
import type { DriftBackend } from './window.js';

export interface DriftHubOptions {
  logger: Logger;
  /** Registry to export sluice_drift_* on (the gateway's). */
  registry?: Registry | undefined;
  /** Model repository root: snapshots from version folders outside it belong to another gateway. */
  repository: string;
  mergeIntervalMs?: number;
  backend?: DriftBackend | 'auto';
}

interface Entry {
  monitor: DriftMonitor;
  versionDir: string;
  warnedErrors: boolean;
}

export class DriftHub {
  readonly #logger: Logger;
  readonly #metrics: DriftMetrics | undefined;
  readonly #repository: string;
  readonly #backend: DriftBackend | 'auto';
  readonly #channel = new BroadcastChannel(DRIFT_CHANNEL);
  readonly #timer: NodeJS.Timeout;
  readonly #monitors = new Map<string, Entry>();

  constructor(options: DriftHubOptions) {
    this.#logger = options.logger;
    this.#metrics = options.registry ? new DriftMetrics(options.registry) : undefined;
    this.#repository = resolve(options.repository);
    this.#backend = options.backend ?? 'auto';
    this.#channel.onmessage = (event: unknown) => this.#receive((event as { data: DriftMessage }).data);
    this.#channel.unref();
    this.#timer = setInterval(() => this.tick(), options.mergeIntervalMs ?? 1000);
    this.#timer.unref();
  }

  /** Create (or return) the monitor of a model version; reads and validates its profile. */
  ensure(model: string, version: string, versionDir: string, config: DriftConfig): DriftMonitor {
    const key = `${model}/${version}`;
    const existing = this.#monitors.get(key);
    if (existing && existing.versionDir === resolve(versionDir)) return existing.monitor;
    existing?.monitor.close();
    const compiled = compileProfile(readProfile(join(versionDir, config.profile)));
    const monitor = new DriftMonitor({ model, version, compiled, config, logger: this.#logger, metrics: this.#metrics, backend: this.#backend });
    this.#monitors.set(key, { monitor, versionDir: resolve(versionDir), warnedErrors: false });
    return monitor;
  }

  monitor(model: string, version: string): DriftMonitor | undefined {
    return this.#monitors.get(`${model}/${version}`)?.monitor;
  }

  report(model: string, version: string): DriftReport | undefined {
    return this.monitor(model, version)?.report();
  }

  /** Score what arrived, then ask the workers for their windows. Runs every merge interval. */
  tick(): void {
    for (const e of this.#monitors.values()) e.monitor.evaluate();
    this.#channel.postMessage({ type: 'drift-flush' } satisfies FlushMessage);
  }

  remove(model: string, version: string): void {
    const key = `${model}/${version}`;
    this.#monitors.get(key)?.monitor.close();
    this.#monitors.delete(key);
  }

  close(): void {
    clearInterval(this.#timer);
    this.#channel.close();
    for (const e of this.#monitors.values()) e.monitor.close();
    this.#monitors.clear();
  }

  #receive(msg: DriftMessage): void {
    if (msg?.type !== 'drift-snapshot') return;
    const dir = resolve(msg.versionDir);
    let entry = this.#monitors.get(`${msg.model}/${msg.version}`);
    if (entry && entry.versionDir !== dir) return;
    if (!entry) {
      if (!dir.startsWith(this.#repository + sep)) return;
      try {
        this.ensure(msg.model, msg.version, dir, msg.config);
      } catch (err) {
        this.#logger.warn({ err: toSluiceError(err), model: msg.model, version: msg.version }, 'drift monitor could not start');
        return;
      }
      entry = this.#monitors.get(`${msg.model}/${msg.version}`)!;
    }
    this.#merge(entry, msg);
  }

  #merge(entry: Entry, msg: SnapshotMessage): void {
    if (msg.errors > 0 && !entry.warnedErrors) {
      entry.warnedErrors = true;
      this.#logger.warn({ model: msg.model, version: msg.version, batches: msg.errors }, 'drift observer skipped batches whose tensors do not match the profile');
    }
    try {
      entry.monitor.merge(msg.snapshot);
    } catch (err) {
      this.#logger.warn({ err: toSluiceError(err), model: msg.model, version: msg.version }, 'drift snapshot does not match the profile; dropped');
    }
  }
}
