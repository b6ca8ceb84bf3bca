// The model repository: Triton-like folders (<root>/<name>/config.json, <root>/<name>/<version>/model.onnx)
// turned into loaded model versions with a routing table each. Loading, unloading and reloading
// happen while the gateway serves: a reload brings the new versions up (sessions opened, warm-up
// run) before it swaps them in, then drains the old ones, so no call fails; a failed load leaves
// the old versions serving. The control-plane sync drives the same API (loadVersion, setRouting).
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SluiceError, isSluiceError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { BatcherClock } from '../batching/batcher.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import { RoutingTable, checkRouting } from '../routing/routing-table.js';
import { RolloutRoute, rolloutWindow } from '../routing/rollout-route.js';
import { OutputBinning } from '../routing/output-bins.js';
import { readProfile } from '../drift/compile.js';
import type { DriftProfile } from '../drift/profile.js';
import type { WireRolloutPlan } from '../../lib/sync-wire.js';
import type { WorkerPool } from '../workers/pool.js';
import { InlineLoad } from '../batching/inline.js';
import { GpuInventory, placeVersion, type GpuDeviceSource } from '../workers/gpu-devices.js';
import { parseModelConfig, type ModelConfig, type RoutingConfig, type VersionPolicy } from './config.js';
import { LoadedVersion } from './loaded-version.js';

/**
 * Where a version's files come from: an existing folder, or files to write into its folder
 * (`model.onnx`, optionally its own `config.json`, its drift profile...).
 */
export type VersionSource = { dir: string } | { files: Record<string, Uint8Array | string> };

/** Throws to refuse a version folder (name, version, model folder, version folder). */
export type VersionCheck = (name: string, version: string, modelDir: string, versionDir: string) => void;

export interface RepositoryIndexEntry {
  name: string;
  version?: string;
  state: 'READY' | 'LOADING' | 'UNLOADING' | 'UNAVAILABLE';
  reason?: string;
}

export interface ModelRepositoryOptions {
  root: string;
  pool: WorkerPool;
  metrics: GatewayMetrics;
  logger: Logger;
  clock?: BatcherClock | undefined;
  /** Where the GPUs are listed from (default nvidia-smi on PATH); asked only when a config wants CUDA. */
  gpus?: GpuDeviceSource | undefined;
}

/** A model as served: its loaded versions and the table that routes calls among them. */
export class LoadedModel {
  readonly name: string;
  config: ModelConfig;
  routing: RoutingTable;
  versions = new Map<string, LoadedVersion>();
  /** READY version numbers, ascending. */
  readyVersions: string[] = [];

  constructor(config: ModelConfig) {
    this.name = config.name;
    this.config = config;
    this.routing = new RoutingTable(config.routing);
  }

  /** Why no version can take a call: an UNAVAILABLE version's reason when there is one. */
  notServing(): SluiceError {
    const down = [...this.versions.values()].find((v) => v.state === 'UNAVAILABLE');
    return down?.notReady() ?? new SluiceError('SLUICE_E_MODEL_NOT_READY', `model ${this.name} has no ready version`, { retryAfter: 1 });
  }

  refresh(): void {
    this.readyVersions = [...this.versions.values()].filter((v) => v.state === 'READY').map((v) => v.version).sort(byNumber);
  }
}

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const VERSION = /^[1-9][0-9]{0,17}$/;

export class ModelRepository {
  readonly root: string;
  /** The host's GPUs and the versions placed on them. */
  readonly gpus: GpuInventory;
  /** Calls in flight across every model and the rate they collide at: the inline decision's input. */
  readonly load: InlineLoad;
  readonly #pool: WorkerPool;
  readonly #metrics: GatewayMetrics;
  readonly #logger: Logger;
  readonly #clock: BatcherClock | undefined;
  readonly #models = new Map<string, LoadedModel>();
  /** Models the control plane routes nothing to (no production alias, no rollout): closed until setRouting. */
  readonly #unrouted = new Set<string>();
  readonly #failures = new Map<string, string>();
  readonly #loading = new Set<string>();
  readonly #locks = new Map<string, Promise<unknown>>();
  #check: VersionCheck | undefined;

  constructor(options: ModelRepositoryOptions) {
    this.root = options.root;
    this.#pool = options.pool;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#clock = options.clock;
    this.gpus = new GpuInventory(options.gpus);
    this.load = new InlineLoad(options.clock);
  }

  model(name: string): LoadedModel | undefined {
    return this.#models.get(name);
  }

  /** True while every inference worker is idle (rollout copies run only then, never beside clients). */
  get workersIdle(): boolean {
    return this.#pool.allIdle;
  }

  /** Resolves once the loads and unloads of `name` queued so far have finished (whatever their outcome). */
  async settled(name: string): Promise<void> {
    await this.#locks.get(name);
  }

  /** Every loaded model version (metrics, drain). */
  *versions(): Iterable<LoadedVersion> {
    for (const m of this.#models.values()) yield* m.versions.values();
  }

  /**
   * Check every version folder before it is loaded from disk (a gateway under a control plane
   * verifies the registry's signed statement); a folder the check refuses is logged and skipped.
   */
  setVersionCheck(check: VersionCheck): void {
    this.#check = check;
  }

  /** Load every model folder under the root. A model that fails is logged and left unavailable. */
  async loadAll(): Promise<void> {
    const names = existsSync(this.root) ? readdirSync(this.root).filter((n) => MODEL_NAME.test(n) && existsSync(join(this.root, n, 'config.json'))) : [];
    await Promise.all(
      names.map((name) =>
        this.loadModel(name).catch((err: unknown) => {
          // Under a control plane, unverified folders wait for it (the sync fetches or adopts them).
          if ((err as SluiceError).code === 'SLUICE_E_CACHE_UNVERIFIED') this.#logger.warn({ model: name, err: (err as Error).message }, 'model not loaded from disk: no version folder verifies');
          else this.#logger.error({ model: name, err: (err as Error).message }, 'model failed to load');
        }),
      ),
    );
  }

  /** (Re)load a model from its folder: config.json and the versions its version policy selects. */
  loadModel(name: string): Promise<void> {
    return this.#serialized(name, async () => {
      const dir = this.#modelDir(name);
      const config = this.#readConfig(name, dir);
      const versions = selectVersions(dir, config.version_policy, (v) => this.#checked(name, v, dir));
      if (versions.length === 0 && this.#check !== undefined && selectVersions(dir, { all: {} }).length > 0) {
        this.#failures.set(name, `no version folder of ${name} verifies`);
        throw new SluiceError('SLUICE_E_CACHE_UNVERIFIED', `model ${name} has no version folder that verifies`);
      }
      if (versions.length === 0) throw this.#failed(name, `model ${name} has no version folder with a model.onnx`);
      const fresh = await this.#bringUp(versions.map((v) => [v, join(dir, v), this.#versionConfig(name, dir, join(dir, v), config)] as const));
      const model = this.#models.get(name);
      const old = model ? [...model.versions.values()] : [];
      const next = model ?? new LoadedModel(config);
      next.config = config;
      next.routing = this.#unrouted.has(name) ? RoutingTable.closed() : new RoutingTable(config.routing, model?.routing.rollout);
      next.versions = new Map(fresh.map((v) => [v.version, v]));
      next.refresh();
      this.#models.set(name, next);
      this.#failures.delete(name);
      this.#logger.info({ model: name, versions }, 'model loaded');
      await Promise.all(old.map((v) => v.unload()));
    });
  }

  /** Unload every version of a model; queued and running calls finish first. */
  unloadModel(name: string): Promise<void> {
    return this.#serialized(name, async () => {
      checkName(name);
      const model = this.#models.get(name);
      if (model === undefined) throw new SluiceError('SLUICE_E_MODEL_NOT_FOUND', `model ${name} is not loaded`);
      this.#models.delete(name);
      this.#failures.set(name, 'unloaded');
      await Promise.all([...model.versions.values()].map((v) => v.unload()));
      this.#logger.info({ model: name }, 'model unloaded');
    });
  }

  /**
   * Load (or replace) one version of a model, from a folder or from files written into the
   * repository first. The version's own config.json applies, else the model's. A model new to the
   * repository gets the version's config (or `{}`) as its config.json. Other versions and the
   * routing table are left alone.
   */
  loadVersion(name: string, version: string, source: VersionSource): Promise<void> {
    return this.#serialized(name, async () => {
      checkName(name);
      if (!VERSION.test(version)) throw new SluiceError('SLUICE_E_VALIDATION', `version ${version} must be a positive integer`);
      const modelDir = join(this.root, name);
      let versionDir: string;
      let written: WrittenVersion | undefined;
      if ('dir' in source) {
        versionDir = source.dir;
      } else {
        versionDir = join(modelDir, version);
        written = writeVersionFiles(modelDir, version, source.files);
      }
      let fresh: LoadedVersion | undefined;
      try {
        const config = this.#readConfig(name, existsSync(join(versionDir, 'config.json')) ? versionDir : modelDir);
        [fresh] = await this.#bringUp([[version, versionDir, config]]);
      } catch (err) {
        // A refused version leaves nothing behind that a restart would try to load.
        written?.rollback(this.#models.has(name));
        throw err;
      }
      written?.commit();
      const config = fresh!.config;
      let model = this.#models.get(name);
      if (model === undefined) {
        model = new LoadedModel(config);
        if (this.#unrouted.has(name)) model.routing = RoutingTable.closed();
      }
      const old = model.versions.get(version);
      model.versions.set(version, fresh!);
      model.refresh();
      this.#models.set(name, model);
      this.#failures.delete(name);
      if (old) await old.unload();
    });
  }

  unloadVersion(name: string, version: string): Promise<void> {
    return this.#serialized(name, async () => {
      const model = this.#models.get(name);
      const v = model?.versions.get(version);
      if (model === undefined || v === undefined) throw new SluiceError('SLUICE_E_MODEL_VERSION_NOT_FOUND', `model ${name} has no loaded version ${version}`);
      model.versions.delete(version);
      model.refresh();
      if (model.versions.size === 0) this.#models.delete(name);
      await v.unload();
    });
  }

  /**
   * Route nothing to `name` by name until the next setRouting: the control plane names no version
   * for it (no `production` alias, no active rollout). Its loaded versions stay callable by number.
   * A model not loaded yet starts closed when it loads.
   */
  closeRouting(name: string): void {
    this.#unrouted.add(name);
    const model = this.#models.get(name);
    if (model) model.routing = RoutingTable.closed();
  }

  /** Whether `name` is closed by closeRouting (a call by name gets SLUICE_E_MODEL_NOT_ROUTED). */
  isUnrouted(name: string): boolean {
    return this.#unrouted.has(name);
  }

  /**
   * Replace a model's routing table and rollout plan at once (one assignment: a call sees the old
   * table or the new one, never half of each). Every weighted version must be loaded. `rollout`
   * undefined keeps the current plan, null ends it.
   */
  setRouting(name: string, routing: RoutingConfig, rollout?: WireRolloutPlan | null): void {
    const model = this.#models.get(name);
    if (model === undefined) throw new SluiceError('SLUICE_E_MODEL_NOT_FOUND', `model ${name} is not loaded`);
    const checked = checkRouting(name, routing, model.readyVersions);
    this.#unrouted.delete(name);
    const current = model.routing.rollout;
    let route: RolloutRoute | undefined;
    if (rollout === undefined) route = current;
    else if (rollout !== null) route = new RolloutRoute(rollout, current?.sameRollout(rollout) ? current.window : rolloutWindow(rollout, this.#binning(model, String(rollout.stable))));
    model.routing = new RoutingTable(checked, route);
  }

  /**
   * How a rollout bins outputs: on its stable version's drift profile (the loaded stable version's,
   * else the file in its folder), else by class.
   */
  #binning(model: LoadedModel, stable: string): OutputBinning {
    const v = model.versions.get(stable) ?? [...model.versions.values()][0];
    if (v === undefined) return new OutputBinning([]);
    let profile: DriftProfile | undefined;
    const file = v.version === stable && v.config.drift !== undefined ? join(v.dir, v.config.drift.profile) : undefined;
    if (file !== undefined) {
      try {
        profile = readProfile(file);
      } catch (err) {
        this.#logger.warn({ model: model.name, version: stable, err: (err as Error).message }, 'rollout outputs are binned by class: the stable version\'s drift profile is unreadable');
      }
    }
    return OutputBinning.of(v.outputs, v.batched, profile);
  }

  /** The repository index (OIP repository extension): every model folder and loaded version. */
  index(readyOnly = false): RepositoryIndexEntry[] {
    const entries: RepositoryIndexEntry[] = [];
    const names = new Set<string>(this.#models.keys());
    if (existsSync(this.root)) {
      for (const n of readdirSync(this.root)) if (MODEL_NAME.test(n) && existsSync(join(this.root, n, 'config.json'))) names.add(n);
    }
    for (const name of [...names].sort()) {
      const model = this.#models.get(name);
      if (model !== undefined && model.versions.size > 0) {
        for (const v of [...model.versions.values()].sort((a, b) => byNumber(a.version, b.version))) {
          if (v.state === 'UNAVAILABLE') {
            entries.push({ name, version: v.version, state: 'UNAVAILABLE', reason: v.unavailableReason! });
            continue;
          }
          const state = v.state === 'READY' ? 'READY' : v.state === 'LOADING' ? 'LOADING' : 'UNLOADING';
          entries.push({ name, version: v.version, state });
        }
        continue;
      }
      if (this.#loading.has(name)) entries.push({ name, state: 'LOADING' });
      else entries.push({ name, state: 'UNAVAILABLE', reason: this.#failures.get(name) ?? 'not loaded' });
    }
    return readyOnly ? entries.filter((e) => e.state === 'READY') : entries;
  }

  /** Unload everything (gateway shutdown). */
  async close(): Promise<void> {
    const all = [...this.#models.values()];
    this.#models.clear();
    await Promise.all(all.flatMap((m) => [...m.versions.values()].map((v) => v.unload())));
  }

  #checked(name: string, version: string, modelDir: string): boolean {
    if (this.#check === undefined) return true;
    try {
      this.#check(name, version, modelDir, join(modelDir, version));
      return true;
    } catch (err) {
      this.#logger.warn({ model: name, version, code: (err as SluiceError).code, reason: (err as Error).message }, 'version folder refused: it is not loaded from disk');
      return false;
    }
  }

  async #bringUp(versions: readonly (readonly [string, string, ModelConfig])[]): Promise<LoadedVersion[]> {
    const config = versions[0]![2];
    const devices = await this.#place(versions);
    // No await between placing and tracking: a model loading beside this one sees these sessions.
    const fresh = versions.map(([v, dir, c], i) => new LoadedVersion(this.#driftReady(c, v, dir), v, dir, this.#pool, this.#metrics, this.#clock, devices[i], this.load));
    for (const v of fresh) {
      v.onUnavailable = (down) => this.#crashLooping(down);
      this.gpus.track(v);
    }
    const results = await Promise.allSettled(fresh.map((v) => v.load()));
    const at = results.findIndex((r) => r.status === 'rejected');
    if (at < 0) {
      // Memory used now includes these sessions (metadata and /metrics read the last refresh).
      if (devices.some((d) => d !== undefined)) await this.gpus.refresh();
      return fresh;
    }
    await Promise.all(fresh.map((v) => v.unload()));
    const reason = (results[at] as PromiseRejectedResult).reason as Error;
    const coded = isSluiceError(reason) && (reason.code === 'SLUICE_E_MODEL_LOAD_FAILED' || reason.code === 'SLUICE_E_MODEL_PROVIDER');
    const message = coded ? reason.message : `model ${config.name} version ${versions[at]![0]} failed to load: ${reason.message}`;
    // A required provider that is missing keeps its own code: the host, not the model, is wrong.
    throw this.#failed(config.name, message, reason, coded ? reason.code : undefined);
  }

  /** The GPU of each CUDA version (undefined on the CPU): the config's device_id, or the least loaded for 'auto'. */
  async #place(versions: readonly (readonly [string, string, ModelConfig])[]): Promise<(number | undefined)[]> {
    if (!versions.some(([, , c]) => c.execution_providers.includes('cuda'))) return versions.map(() => undefined);
    const devices = await this.gpus.refresh();
    const load = this.gpus.load();
    try {
      return versions.map(([version, , c]) => {
        if (!c.execution_providers.includes('cuda')) return undefined;
        const device = placeVersion({ model: c.name, version, deviceId: c.device_id }, devices, load);
        load.set(device, (load.get(device) ?? 0) + c.instances);
        return device;
      });
    } catch (err) {
      throw this.#failed(versions[0]![2].name, (err as Error).message, err, isSluiceError(err) && err.code === 'SLUICE_E_MODEL_DEVICE' ? err.code : undefined);
    }
  }

  /** A version that kept crashing its worker leaves routing; the other versions and models serve on. */
  #crashLooping(version: LoadedVersion): void {
    const model = this.#models.get(version.name);
    if (model?.versions.get(version.version) === version) model.refresh();
    this.#logger.error({ model: version.name, version: version.version, code: 'SLUICE_E_MODEL_UNAVAILABLE', reason: version.unavailableReason }, 'model version marked unavailable: its worker kept crashing');
  }

  #serialized<T>(name: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(name) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(async () => {
      this.#loading.add(name);
      try {
        return await work();
      } finally {
        this.#loading.delete(name);
      }
    });
    const tail = run.catch(() => undefined);
    this.#locks.set(name, tail);
    void tail.then(() => {
      if (this.#locks.get(name) === tail) this.#locks.delete(name);
    });
    return run;
  }

  #modelDir(name: string): string {
    checkName(name);
    const dir = join(this.root, name);
    if (!existsSync(join(dir, 'config.json'))) throw new SluiceError('SLUICE_E_MODEL_NOT_FOUND', `model ${name} is not in the repository`);
    return dir;
  }

  /** A version folder's own config.json when it has one (registry versions do), else the model's. */
  #versionConfig(name: string, modelDir: string, versionDir: string, modelConfig: ModelConfig): ModelConfig {
    return existsSync(join(versionDir, 'config.json')) && versionDir !== modelDir ? this.#readConfig(name, versionDir) : modelConfig;
  }

  /**
   * A version whose config asks for drift monitoring but whose folder lacks the reference profile
   * serves with drift off: the profile is optional data, the model is what clients call. Said once
   * per load, naming the missing file.
   */
  #driftReady(config: ModelConfig, version: string, dir: string): ModelConfig {
    if (config.drift === undefined) return config;
    const file = join(dir, config.drift.profile);
    if (existsSync(file)) return config;
    this.#logger.warn({ model: config.name, version, profile: file, code: 'SLUICE_E_CONFIG_FILE_MISSING' }, 'drift reference profile is missing; this version serves with drift monitoring off');
    const { drift: _off, ...rest } = config;
    return rest;
  }

  #readConfig(name: string, dir: string): ModelConfig {
    let raw: unknown;
    const file = join(dir, 'config.json');
    if (!existsSync(file)) throw this.#failed(name, `model ${name}: ${file} is missing`);
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw this.#failed(name, `model ${name}: ${file} is not valid JSON: ${(err as Error).message}`, err);
    }
    try {
      return parseModelConfig(name, raw);
    } catch (err) {
      throw this.#failed(name, (err as Error).message, err);
    }
  }

  #failed(name: string, message: string, cause?: unknown, code: 'SLUICE_E_MODEL_LOAD_FAILED' | 'SLUICE_E_MODEL_PROVIDER' | 'SLUICE_E_MODEL_DEVICE' = 'SLUICE_E_MODEL_LOAD_FAILED'): SluiceError {
    this.#failures.set(name, message);
    const details = code !== 'SLUICE_E_MODEL_LOAD_FAILED' && isSluiceError(cause) ? cause.details : undefined;
    return new SluiceError(code, message, details ? { cause, details } : { cause });
  }
}

function checkName(name: string): void {
  if (!MODEL_NAME.test(name)) throw new SluiceError('SLUICE_E_MODEL_NOT_FOUND', `model ${JSON.stringify(name)} is not in the repository`);
}

function byNumber(a: string, b: string): number {
  return Number(a) - Number(b);
}

/** Version folders (positive integers holding model.onnx, admitted by the check) that the policy selects, ascending. */
export function selectVersions(dir: string, policy: VersionPolicy, admit: (version: string) => boolean = () => true): string[] {
  const all = readdirSync(dir)
    .filter((v) => VERSION.test(v) && existsSync(join(dir, v, 'model.onnx')) && statSync(join(dir, v)).isDirectory() && admit(v))
    .sort(byNumber);
  if ('latest' in policy) return all.slice(-policy.latest.num_versions);
  if ('specific' in policy) return all.filter((v) => policy.specific.versions.includes(v));
  return all;
}

interface WrittenVersion {
  /** Drop what the write replaced. */
  commit(): void;
  /** Put back what the write replaced (and remove a model config it created, unless the model is loaded). */
  rollback(modelLoaded: boolean): void;
}

/** Write a version's files under a temporary name and rename into place: never half-written. */
function writeVersionFiles(modelDir: string, version: string, files: Record<string, Uint8Array | string>): WrittenVersion {
  if (!('model.onnx' in files)) throw new SluiceError('SLUICE_E_VALIDATION', 'files must include model.onnx');
  for (const file of Object.keys(files)) {
    if (!/^[A-Za-z0-9_.-]+$/.test(file) || file.startsWith('.')) throw new SluiceError('SLUICE_E_VALIDATION', `file name ${file} is not allowed`);
  }
  const target = join(modelDir, version);
  const stamp = `${process.pid}-${Date.now()}`;
  const tmp = `${target}.tmp-${stamp}`;
  mkdirSync(tmp, { recursive: true });
  for (const [file, content] of Object.entries(files)) writeFileSync(join(tmp, file), content);
  const modelConfig = join(modelDir, 'config.json');
  const createdConfig = !existsSync(modelConfig);
  if (createdConfig) writeFileSync(modelConfig, files['config.json'] ?? '{}\n');
  // Folder names with a suffix never match a version number, so loads never pick them up.
  const previous = existsSync(target) ? `${target}.old-${stamp}` : undefined;
  if (previous) renameSync(target, previous);
  renameSync(tmp, target);
  return {
    commit: () => {
      if (previous) rmSync(previous, { recursive: true, force: true });
    },
    rollback: (modelLoaded) => {
      rmSync(target, { recursive: true, force: true });
      if (previous) renameSync(previous, target);
      if (createdConfig && !modelLoaded) rmSync(modelConfig, { force: true });
    },
  };
}
