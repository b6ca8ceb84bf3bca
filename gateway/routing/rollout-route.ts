// A model's active rollout as the routing of this gateway applies it (lib/sync-wire.ts
// WireRolloutPlan): which version a preview call reaches, whether a pick is sticky, and which
// version runs a copy of a call for comparison. The weights themselves stay in the RoutingTable.
import type { RolloutStrategy, WireRolloutPlan } from '../../lib/sync-wire.js';
import type { OutputBinning } from './output-bins.js';
import type { WindowRollout } from './traffic.js';

export class RolloutRoute {
  readonly id: string;
  readonly strategy: RolloutStrategy;
  readonly stable: string;
  readonly candidate: string;
  readonly sticky: boolean;
  readonly mirrorShare: number;
  readonly agreementTolerance: number;
  /** What traffic windows are measured under; shared by every route of the same rollout and stable version. */
  readonly window: WindowRollout;

  constructor(plan: WireRolloutPlan, window: WindowRollout) {
    this.id = plan.id;
    this.strategy = plan.strategy;
    this.stable = String(plan.stable);
    this.candidate = String(plan.candidate);
    this.sticky = plan.sticky;
    this.mirrorShare = Number.isFinite(plan.mirrorShare) ? Math.min(1, Math.max(0, plan.mirrorShare)) : 0;
    this.agreementTolerance = Number.isFinite(plan.agreementTolerance) && plan.agreementTolerance >= 0 ? plan.agreementTolerance : 0;
    this.window = window;
  }

  /** True when the plan is the one this route applies (so its windows and binning carry on). */
  sameRollout(plan: WireRolloutPlan): boolean {
    return plan.id === this.id && String(plan.stable) === this.stable && String(plan.candidate) === this.candidate;
  }

  /**
   * The version that also runs a copy of a call `answeredBy` answered, for `random` in [0, 1):
   * CANARY mirrors a share of each version's calls on the other; SHADOW, and BLUE_GREEN before the
   * switch (the control plane sends mirrorShare 0 once it switched), a share of stable's calls on
   * the candidate; AB copies nothing.
   */
  mirrorOf(answeredBy: string, random: number): string | undefined {
    if (!(random < this.mirrorShare)) return undefined;
    if (this.strategy === 'CANARY') {
      if (answeredBy === this.stable) return this.candidate;
      if (answeredBy === this.candidate) return this.stable;
      return undefined;
    }
    if ((this.strategy === 'SHADOW' || this.strategy === 'BLUE_GREEN') && answeredBy === this.stable) return this.candidate;
    return undefined;
  }
}

/** Build the window identity of a rollout (kept while the plan names the same rollout and stable version). */
export function rolloutWindow(plan: WireRolloutPlan, binning: OutputBinning): WindowRollout {
  return { id: plan.id, binning };
}

/**
 * A route key mapped to [0, 1), the same on every gateway and across restarts: FNV-1a (32-bit)
 * over the key's UTF-8 bytes, then murmur3's fmix32 finalizer so that keys differing in their last
 * characters (user-1, user-2 ...) spread over the whole range, not only over the low bits.
 */
export function routeKeyUnit(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    let c = key.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, 0x01000193);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < key.length) {
      const d = key.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), 0x01000193);
    } else if (c < 0x10000) {
      h = Math.imul(h ^ (0xe0 | (c >> 12)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), 0x01000193);
    } else {
      h = Math.imul(h ^ (0xf0 | (c >> 18)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((c >> 12) & 0x3f)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), 0x01000193);
    }
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}
