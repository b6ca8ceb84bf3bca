// Which loaded version of a model a call goes to. The control plane drives rollouts by replacing a
// model's table (weights per version, default version, the active rollout's plan); `versions/{v}`
// in the URL overrides it, and a preview call goes to the rollout's candidate.
import { SluiceError } from '../../lib/errors.js';
import type { RoutingConfig } from '../models/config.js';
import { routeKeyUnit, type RolloutRoute } from './rollout-route.js';

export class RoutingTable {
  readonly defaultVersion: string | undefined;
  readonly weights: Readonly<Record<string, number>>;
  readonly #versions: string[];
  readonly #cumulative: number[];
  readonly #total: number;
  /** The model's active rollout, if any. */
  readonly rollout: RolloutRoute | undefined;
  /**
   * False under a control plane for a model with no `production` alias and no active rollout:
   * nothing is reached by name, only by an explicit version (see `closed()`).
   */
  readonly routed: boolean;

  /** A table that routes nothing by name: serving follows aliases and rollouts only, never "the newest upload". */
  static closed(): RoutingTable {
    return new RoutingTable({ weights: {} }, undefined, false);
  }

  constructor(config: RoutingConfig, rollout?: RolloutRoute, routed = true) {
    this.rollout = rollout;
    this.routed = routed;
    this.defaultVersion = config.default_version;
    this.weights = { ...(config.weights ?? {}) };
    this.#versions = [];
    this.#cumulative = [];
    let total = 0;
    for (const [version, weight] of Object.entries(this.weights)) {
      if (!(weight > 0)) continue;
      total += weight;
      this.#versions.push(version);
      this.#cumulative.push(total);
    }
    this.#total = total;
  }

  /**
   * Pick a version among `loaded` (ascending, numeric strings): by weight when weights are set,
   * else the default version, else the newest. A weighted or default version that is not loaded
   * falls through to the next rule, so a half-applied rollout never sends calls nowhere. Under a
   * sticky rollout a call with a route key is placed by the key's hash instead of `random`, so the
   * same key reaches the same version on every gateway.
   */
  pick(loaded: readonly string[], random: number = Math.random(), routeKey?: string): string | undefined {
    if (!this.routed) return undefined;
    if (this.#total > 0) {
      const x = (routeKey !== undefined && this.rollout?.sticky === true ? routeKeyUnit(routeKey) : random) * this.#total;
      for (let i = 0; i < this.#cumulative.length; i++) {
        if (x < this.#cumulative[i]!) {
          const v = this.#versions[i]!;
          if (loaded.includes(v)) return v;
          break;
        }
      }
    }
    if (this.defaultVersion !== undefined && loaded.includes(this.defaultVersion)) return this.defaultVersion;
    return loaded[loaded.length - 1];
  }

  /** The version a preview call reaches: the rollout's candidate when loaded, else undefined. */
  preview(loaded: readonly string[]): string | undefined {
    const candidate = this.rollout?.candidate;
    return candidate !== undefined && loaded.includes(candidate) ? candidate : undefined;
  }

  toJSON(): RoutingConfig {
    const out: RoutingConfig = { weights: { ...this.weights } };
    if (this.defaultVersion !== undefined) out.default_version = this.defaultVersion;
    return out;
  }
}

/** Validate a routing table someone (the control plane, a test) wants to install. */
export function checkRouting(model: string, routing: RoutingConfig, loaded: readonly string[]): RoutingConfig {
  const missing = [
    ...(routing.default_version !== undefined ? [routing.default_version] : []),
    ...Object.entries(routing.weights ?? {}).filter(([, w]) => w > 0).map(([v]) => v),
  ].filter((v) => !loaded.includes(v));
  if (missing.length > 0) {
    throw new SluiceError('SLUICE_E_MODEL_VERSION_NOT_FOUND', `model ${model} has no loaded version ${missing.join(', ')} to route to`);
  }
  for (const [v, w] of Object.entries(routing.weights ?? {})) {
    if (!(typeof w === 'number' && Number.isFinite(w) && w >= 0)) {
      throw new SluiceError('SLUICE_E_VALIDATION', `routing weight of version ${v} must be a non-negative number`);
    }
  }
  return routing;
}
