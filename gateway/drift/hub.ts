// DriftHub: the gateway main thread's side of drift. Workers' observers announce their shared
// window state on the drift channel; every merge interval the hub reads each one (a copy of a few
// KB), hands a monitor the states of its version's current epoch (DriftMonitor.collect), scores
// them (evaluate), and when a monitor starts a new window, asks its workers to start over.
// A monitor exists per model version with a drift config: created by ensure() (the drift route does,
// on first read) or when the first observer of a version this gateway owns attaches (`owns`: the
// channel is process-wide, and tests run several gateways in one process).
//
// Observers attach when their session opens; until the hub adopts one (its version is loaded and
// owned) its window keeps counting and is merged once adopted. Pending observers are retried every
// ADOPT_RETRY_MS for ADOPT_PATIENCE_MS. Warm-up runs never reach a window (the batch says so).
import { BroadcastChannel } from 'node:worker_threads';
import { join, resolve } from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger } from '../../lib/log.js';
import { toSluiceError } from '../../lib/errors.js';
import type { DriftConfig } from '../models/config.js';
import { DRIFT_CHANNEL, type AttachMessage, type DriftMessage } from './channel.js';
import { compileProfile, readProfile } from './compile.js';
import { DriftMetrics } from './metrics.js';
import { DriftMonitor, type DriftEvent, type DriftReport } from './monitor.js';
import { SharedStateReader } from './shared-state.js';
import { blockOffsets } from './layout.js';
import type { DriftBackend } from './window.js';

export interface DriftHubOptions {
  logger: Logger;
  /** Registry to export sluice_drift_* on (the gateway's). */
  registry?: Registry | undefined;
  /**
   * The drift config of a model version this gateway serves from `versionDir`, or undefined when the
   * observer belongs to another gateway (or a version not loaded yet: asked again every tick).
   */
  owns: (model: string, version: string, versionDir: string) => DriftConfig | undefined;
  mergeIntervalMs?: number | undefined;
  backend?: DriftBackend | 'auto' | undefined;
  /** Every drift event of every monitor (after it is logged). */
  onEvent?: ((event: DriftEvent) => void) | undefined;
}

const ADOPT_RETRY_MS = 5;
const ADOPT_PATIENCE_MS = 60_000;

interface Source {
  attach: AttachMessage;
  reader: SharedStateReader;
  /** Set once the observer detached: its last state, kept until its epoch's window ends. */
  final?: { epoch: number; state: Float64Array };
}

interface Entry {
  monitor: DriftMonitor;
  versionDir: string;
  sources: Map<string, Source>;
  warnedSkips: boolean;
}

export class DriftHub {
  readonly #logger: Logger;
  readonly #metrics: DriftMetrics | undefined;
  readonly #owns: DriftHubOptions['owns'];
  readonly #backend: DriftBackend | 'auto';
  readonly #onEvent: DriftHubOptions['onEvent'];
  readonly #channel = new BroadcastChannel(DRIFT_CHANNEL);
  readonly #timer: NodeJS.Timeout;
  readonly #monitors = new Map<string, Entry>();
  /** Observers not (yet) owned by a monitor of this hub, with when they attached. */
  readonly #pending = new Map<string, { attach: AttachMessage; at: number }>();
  #retry: NodeJS.Timeout | undefined;

  constructor(options: DriftHubOptions) {
    this.#logger = options.logger;
    this.#metrics = options.registry ? new DriftMetrics(options.registry) : undefined;
    this.#owns = options.owns;
    this.#backend = options.backend ?? 'auto';
    this.#onEvent = options.onEvent;
    this.#channel.onmessage = (event: unknown) => this.#receive((event as { data: DriftMessage }).data);
    this.#channel.unref();
    this.#timer = setInterval(() => this.tick(), options.mergeIntervalMs ?? 1000);
    this.#timer.unref();
  }

  /** Create (or return) the monitor of a model version; reads and validates its profile. */
  ensure(model: string, version: string, versionDir: string, config: DriftConfig): DriftMonitor {
    const key = `${model}/${version}`;
    const dir = resolve(versionDir);
    const existing = this.#monitors.get(key);
    if (existing && existing.versionDir === dir) return existing.monitor;
    existing?.monitor.close();
    const compiled = compileProfile(readProfile(join(dir, config.profile)));
    const monitor = new DriftMonitor({ model, version, compiled, config, logger: this.#logger, metrics: this.#metrics, backend: this.#backend, onEvent: this.#onEvent });
    this.#monitors.set(key, { monitor, versionDir: dir, sources: new Map(), warnedSkips: false });
    this.#adoptPending();
    return monitor;
  }

  monitor(model: string, version: string): DriftMonitor | undefined {
    return this.#monitors.get(`${model}/${version}`)?.monitor;
  }

  report(model: string, version: string): DriftReport | undefined {
    return this.monitor(model, version)?.report();
  }

  /** Reports of every monitored model version (what a gateway pushes to its control plane). */
  reports(): DriftReport[] {
    return [...this.#monitors.values()].map((e) => e.monitor.report());
  }

  /** Read every worker's window, score, rotate. Runs every merge interval. */
  tick(): void {
    this.#adoptPending();
    for (const [key, entry] of this.#monitors) {
      const { model, version } = entry.monitor;
      // An unloaded version's monitor goes, and its metric series with it.
      if (!this.#owns(model, version, entry.versionDir)) {
        entry.monitor.close();
        this.#monitors.delete(key);
        continue;
      }
      this.#collect(entry);
    }
  }

  #adoptPending(): void {
    const now = Date.now();
    for (const [id, p] of this.#pending) {
      if (now - p.at > ADOPT_PATIENCE_MS) this.#pending.delete(id);
      else this.#adopt(p.attach);
    }
    if (this.#pending.size === 0 && this.#retry) {
      clearInterval(this.#retry);
      this.#retry = undefined;
    }
  }

  close(): void {
    clearInterval(this.#timer);
    if (this.#retry) clearInterval(this.#retry);
    this.#channel.close();
    for (const e of this.#monitors.values()) e.monitor.close();
    this.#monitors.clear();
    this.#pending.clear();
  }

  #collect(entry: Entry): void {
    const { monitor } = entry;
    const epoch = monitor.epoch;
    const states: Float64Array[] = [];
    let skipped = 0;
    for (const [id, s] of entry.sources) {
      if (s.final) {
        if (s.final.epoch === epoch) states.push(s.final.state);
        else entry.sources.delete(id);
        continue;
      }
      if (s.reader.read() === epoch) states.push(s.reader.copy);
      skipped += s.reader.skipped;
    }
    if (skipped > 0 && !entry.warnedSkips) {
      entry.warnedSkips = true;
      this.#logger.warn({ model: monitor.model, version: monitor.version, batches: skipped }, 'drift observer skipped batches whose tensors do not match the profile');
    }
    try {
      monitor.collect(states);
    } catch (err) {
      this.#logger.warn({ err: toSluiceError(err), model: monitor.model, version: monitor.version }, 'drift state does not match the profile; ignored');
      return;
    }
    monitor.evaluate();
    if (monitor.epoch !== epoch) for (const s of entry.sources.values()) s.reader.requestEpoch(monitor.epoch);
  }

  #receive(msg: DriftMessage): void {
    if (msg?.type === 'drift-attach') {
      this.#pending.set(msg.id, { attach: msg, at: Date.now() });
      this.#adopt(msg);
      if (this.#pending.size > 0 && !this.#retry) {
        this.#retry = setInterval(() => this.#adoptPending(), ADOPT_RETRY_MS);
        this.#retry.unref();
      }
    } else if (msg?.type === 'drift-detach') {
      this.#pending.delete(msg.id);
      for (const entry of this.#monitors.values()) {
        const s = entry.sources.get(msg.id);
        if (!s) continue;
        const epoch = s.reader.read();
        s.final = { epoch, state: s.reader.copy };
      }
    }
  }

  /** Attach an observer's state to its monitor when this gateway owns its model version. */
  #adopt(msg: AttachMessage): void {
    const dir = resolve(msg.versionDir);
    let entry = this.#monitors.get(`${msg.model}/${msg.version}`);
    if (entry && entry.versionDir !== dir) return;
    if (!entry) {
      const config = this.#owns(msg.model, msg.version, dir);
      if (!config) return;
      try {
        this.ensure(msg.model, msg.version, dir, config);
      } catch (err) {
        this.#pending.delete(msg.id);
        this.#logger.warn({ err: toSluiceError(err), model: msg.model, version: msg.version }, 'drift monitor could not start');
        return;
      }
      entry = this.#monitors.get(`${msg.model}/${msg.version}`)!;
      if (entry.sources.has(msg.id)) return;
    }
    this.#pending.delete(msg.id);
    const reader = new SharedStateReader(msg.buffer);
    const length = blockOffsets(entry.monitor.compiled.layout);
    if (reader.copy.length !== length[length.length - 1]) {
      this.#logger.warn({ model: msg.model, version: msg.version }, 'a drift observer was built from another profile; ignored');
      return;
    }
    reader.requestEpoch(entry.monitor.epoch);
    entry.sources.set(msg.id, { attach: msg, reader });
  }
}
