// The fleet as people and Prometheus see it (issue 19): each gateway's status and recent traffic,
// and per model which gateways serve which version with the version's fleet-wide figures. Nothing
// here is stored of its own: it reads the gateways' heartbeats (gateways table) and the traffic
// windows they report (traffic_windows), a short history the leader prunes (loops/rollout-
// controller.ts, one hour by default). "Recent" is the windows received in the last `seconds`
// (receive time, as rollout analysis and alerts select them): calls/s = Σ calls / seconds, and p99
// is fleet-figures.ts's (the upper bound of the bucket holding the 99th percentile).
import { SluiceError } from '../../lib/errors.js';
import type { WireDriftSnapshot } from '../../lib/sync-wire.js';
import type { Store } from '../store/db.js';
import { bucketQuantile, fleetFigures, type FigureWindow, type VersionFigures } from './fleet-figures.js';
import type { LoadedVersion } from './gateways.js';

/** A gateway counts as connected while its last heartbeat is younger than this many intervals. */
export const STALE_AFTER_INTERVALS = 3;
/** What "recent" means unless a query says otherwise. */
export const RECENT_SECONDS = 60;
/** The longest recent range a query may ask for (the default retention of traffic windows). */
export const MAX_RECENT_SECONDS = 3600;

export type GatewayStatus = 'connected' | 'stale' | 'never';
export const GATEWAY_STATUSES: readonly GatewayStatus[] = ['connected', 'stale', 'never'];

export function gatewayStatus(lastHeartbeatAt: string | null, staleMs: number, nowMs: number = Date.now()): GatewayStatus {
  if (lastHeartbeatAt === null) return 'never';
  return nowMs - Date.parse(lastHeartbeatAt) <= staleMs ? 'connected' : 'stale';
}

/** One gateway's (or version's) traffic over the recent range. */
export interface RecentTraffic {
  seconds: number;
  calls: number;
  errors: number;
  callsPerSecond: number;
  errorRate: number | null;
  p99Ms: number | null;
}

/** One gateway's report of one version, for the model fleet view. */
export interface ServingGateway {
  gateway: string;
  region: string;
  status: GatewayStatus;
  /** ready, loading or failed, as its last heartbeat said. */
  state: string;
  executionProvider: string | null;
}

export interface FleetVersion {
  version: number;
  /** The gateways whose heartbeat names the version, by name. */
  gateways: ServingGateway[];
  /** Connected gateways with the version ready. */
  serving: number;
  callsPerSecond: number;
  /** Σ over every gateway's windows received in the range; null when none reported the version. */
  figures: VersionFigures | null;
}

export interface ModelFleet {
  model: string;
  seconds: number;
  versions: FleetVersion[];
}

export function checkRecentSeconds(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_RECENT_SECONDS) {
    throw new SluiceError('SLUICE_E_VALIDATION', `seconds must be an integer from 1 to ${MAX_RECENT_SECONDS}`, { details: { field: 'seconds', max: MAX_RECENT_SECONDS } });
  }
  return seconds;
}

function sinceIso(seconds: number, nowMs: number): string {
  return new Date(nowMs - seconds * 1000).toISOString();
}

export class FleetService {
  constructor(private readonly store: Store) {}

  /** Gateway name → its traffic over the windows received in the last `seconds` (gateways without any are absent). */
  async recentByGateway(seconds: number, nowMs: number = Date.now()): Promise<Map<string, RecentTraffic>> {
    checkRecentSeconds(seconds);
    const rows = await this.store.db.selectFrom('traffic_windows').select(['gateway', 'calls', 'errors', 'latency']).where('received_at', '>', sinceIso(seconds, nowMs)).execute();
    const sums = new Map<string, { calls: number; errors: number; latency: number[] }>();
    for (const r of rows) {
      const latency = JSON.parse(r.latency) as number[];
      let s = sums.get(r.gateway);
      if (!s) sums.set(r.gateway, (s = { calls: 0, errors: 0, latency: new Array<number>(latency.length).fill(0) }));
      s.calls += Number(r.calls);
      s.errors += Number(r.errors);
      for (let i = 0; i < s.latency.length && i < latency.length; i++) s.latency[i]! += latency[i]!;
    }
    const out = new Map<string, RecentTraffic>();
    for (const [gateway, s] of sums) {
      out.set(gateway, { seconds, calls: s.calls, errors: s.errors, callsPerSecond: s.calls / seconds, errorRate: s.calls > 0 ? s.errors / s.calls : null, p99Ms: bucketQuantile(s.latency, 0.99) });
    }
    return out;
  }

  /** Which gateways serve which version of `model`, with each version's figures over the last `seconds`. */
  async modelFleet(model: string, seconds: number, staleMs: number, nowMs: number = Date.now()): Promise<ModelFleet> {
    checkRecentSeconds(seconds);
    const exists = await this.store.db.selectFrom('models').select('id').where('name', '=', model).executeTakeFirst();
    if (!exists) throw new SluiceError('SLUICE_E_STORE_NOT_FOUND', `no model ${model}`, { details: { model } });
    const byVersion = new Map<number, ServingGateway[]>();
    for (const g of await this.store.db.selectFrom('gateways').select(['name', 'region', 'loaded', 'last_heartbeat_at']).orderBy('name').execute()) {
      const status = gatewayStatus(g.last_heartbeat_at, staleMs, nowMs);
      for (const l of JSON.parse(g.loaded) as LoadedVersion[]) {
        if (l.model !== model) continue;
        let list = byVersion.get(l.version);
        if (!list) byVersion.set(l.version, (list = []));
        list.push({ gateway: g.name, region: g.region, status, state: l.state, executionProvider: l.executionProvider ?? null });
      }
    }
    const figures = new Map((await this.recentWindows(seconds, nowMs, model)).get(model)?.map((f) => [f.version, f]) ?? []);
    const versions = [...new Set([...byVersion.keys(), ...figures.keys()])].sort((a, b) => a - b);
    return {
      model,
      seconds,
      versions: versions.map((version): FleetVersion => {
        const gateways = byVersion.get(version) ?? [];
        const f = figures.get(version) ?? null;
        return { version, gateways, serving: gateways.filter((g) => g.status === 'connected' && g.state === 'ready').length, callsPerSecond: f ? f.calls / seconds : 0, figures: f };
      }),
    };
  }

  /** How many registered gateways are connected, stale, or never heard from. */
  async statusCounts(staleMs: number, nowMs: number = Date.now()): Promise<Record<GatewayStatus, number>> {
    const counts: Record<GatewayStatus, number> = { connected: 0, stale: 0, never: 0 };
    for (const g of await this.store.db.selectFrom('gateways').select('last_heartbeat_at').execute()) counts[gatewayStatus(g.last_heartbeat_at, staleMs, nowMs)]++;
    return counts;
  }

  /** Model → its versions' figures over the windows received in the last `seconds` (one query for the whole fleet). */
  async recentWindows(seconds: number, nowMs: number = Date.now(), model?: string): Promise<Map<string, VersionFigures[]>> {
    let q = this.store.db
      .selectFrom('traffic_windows')
      .select(['model', 'gateway', 'version', 'calls', 'errors', 'latency', 'feedback', 'drift'])
      .where('received_at', '>', sinceIso(seconds, nowMs));
    if (model !== undefined) q = q.where('model', '=', model);
    const rows = await q.orderBy('received_at').orderBy('window_end').execute();
    const byModel = new Map<string, FigureWindow[]>();
    for (const r of rows) {
      let list = byModel.get(r.model);
      if (!list) byModel.set(r.model, (list = []));
      list.push({
        gateway: r.gateway,
        version: Number(r.version),
        calls: Number(r.calls),
        errors: Number(r.errors),
        latency: JSON.parse(r.latency) as number[],
        feedback: r.feedback === null ? null : JSON.parse(r.feedback),
        drift: r.drift === null ? null : (JSON.parse(r.drift) as WireDriftSnapshot[]),
      });
    }
    return new Map([...byModel].map(([name, windows]) => [name, fleetFigures(name, windows)]));
  }
}
