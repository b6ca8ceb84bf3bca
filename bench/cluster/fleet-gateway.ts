// One simulated gateway of bench/cluster/fleet-sim.ts: the real sync client (gateway/sync's
// ControlPlaneClient, so the same GraphQL documents and SSE parsing a gateway uses) without a model
// repository behind it. It registers, holds its desiredStateChanged subscription, "loads" whatever
// version the pushed routes name (instantly: no download, no ONNX Runtime — the control plane's
// side is what is measured), heartbeats what it serves and sends one traffic window per report.
import { ControlPlaneClient, type DesiredState } from '../../gateway/sync/control-plane-client.js';
import { toSluiceError } from '../../lib/errors.js';
import { LATENCY_BUCKETS_MS, type LoadedVersionReport, type WireTrafficWindow } from '../../lib/sync-wire.js';

export type CallKind = 'register' | 'heartbeat' | 'window' | 'poll';

/** Latencies (ms) and failures per kind of call, for the phase being measured. */
export class CallStats {
  readonly ms: Record<CallKind, number[]> = { register: [], heartbeat: [], window: [], poll: [] };
  readonly errors: Record<CallKind, number> = { register: 0, heartbeat: 0, window: 0, poll: 0 };
  /** Error code → count, so a failing run says why. */
  readonly codes = new Map<string, number>();
  /** Error code → the first message seen with it. */
  readonly messages = new Map<string, string>();

  record(kind: CallKind, ms: number, err?: unknown): void {
    if (err === undefined) {
      this.ms[kind].push(ms);
      return;
    }
    this.errors[kind]++;
    const e = toSluiceError(err, 'SLUICE_E_INTERNAL', true);
    this.codes.set(e.code, (this.codes.get(e.code) ?? 0) + 1);
    if (!this.messages.has(e.code)) this.messages.set(e.code, `${kind}: ${e.message}`);
  }

  reset(): void {
    for (const k of Object.keys(this.ms) as CallKind[]) {
      this.ms[k] = [];
      this.errors[k] = 0;
    }
    this.codes.clear();
    this.messages.clear();
  }
}

export interface Push {
  /** performance.now() when the state arrived. */
  at: number;
  /** The version the state routes all weight to (the alias target), if any. */
  version: number | undefined;
}

export class SimulatedGateway {
  private readonly client: ControlPlaneClient;
  private readonly abort = new AbortController();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Set once registerGateway answered. */
  registered = false;
  /** Every state pushed on the subscription, in order. */
  readonly pushes: Push[] = [];
  /** Subscriptions that ended or failed (then held again after 1 s). */
  dropped = 0;
  private state: DesiredState | undefined;
  private onPush: (() => void) | undefined;

  constructor(
    url: string,
    token: string,
    readonly name: string,
    private readonly stats: CallStats,
  ) {
    this.client = new ControlPlaneClient(url, token, this.abort.signal);
  }

  /** Called after each push (the fleet wakes whoever waits for a version). */
  set pushed(fn: () => void) {
    this.onPush = fn;
  }

  get version(): number | undefined {
    return this.pushes.at(-1)?.version;
  }

  async register(): Promise<void> {
    const t0 = performance.now();
    try {
      await this.client.register(this.name, 'sim', { pool: 'fleet-sim' });
      this.registered = true;
      this.stats.record('register', performance.now() - t0);
    } catch (err) {
      this.stats.record('register', 0, err);
      throw err;
    }
  }

  /** Hold the subscription until close(); a state that moves the routed version is heartbeaten at once, as a gateway does after applying it. */
  subscribe(): void {
    if (this.abort.signal.aborted) return;
    this.client
      .subscribe((state) => {
        const before = this.version;
        this.state = state;
        this.pushes.push({ at: performance.now(), version: routedVersion(state) });
        this.onPush?.();
        if (before !== undefined && before !== this.version) void this.heartbeat();
      }, this.abort.signal)
      .catch(() => undefined)
      .finally(() => {
        if (this.abort.signal.aborted) return;
        this.dropped++;
        this.later(() => this.subscribe(), 1000);
      });
  }

  /**
   * Heartbeat every `heartbeatIntervalSeconds`, report every `trafficReportIntervalMs` of the last
   * pushed state, and poll the desired state every `pollMs` (the gateway's fallback, 5 s by
   * default, which it runs beside the subscription), each from a random phase.
   */
  startLoops(pollMs = 5000): void {
    const beatMs = (this.state?.heartbeatIntervalSeconds ?? 10) * 1000;
    const reportMs = this.state?.trafficReportIntervalMs ?? 10_000;
    const beat = () => {
      void this.heartbeat();
      this.later(beat, beatMs);
    };
    const report = () => {
      void this.report();
      this.later(report, reportMs);
    };
    const poll = () => {
      void this.poll();
      this.later(poll, pollMs);
    };
    if (pollMs > 0) this.later(poll, Math.random() * pollMs);
    this.later(beat, Math.random() * beatMs);
    this.later(report, Math.random() * reportMs);
  }

  stopLoops(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  async heartbeat(): Promise<void> {
    const version = this.version;
    const loaded: LoadedVersionReport[] = version === undefined ? [] : [{ model: this.state!.models[0]!.name, version, sha256: this.sha256(version), state: 'ready', executionProvider: 'cpu' }];
    const t0 = performance.now();
    try {
      await this.client.heartbeat(this.name, loaded, 'HEALTHY', '');
      this.stats.record('heartbeat', performance.now() - t0);
    } catch (err) {
      this.stats.record('heartbeat', 0, err);
    }
  }

  async poll(): Promise<void> {
    const t0 = performance.now();
    try {
      await this.client.desiredState();
      this.stats.record('poll', performance.now() - t0);
    } catch (err) {
      this.stats.record('poll', 0, err);
    }
  }

  /** One window of made-up traffic for the routed version (the figures' values cost nothing to store differently). */
  async report(): Promise<void> {
    const version = this.version;
    if (version === undefined) return;
    const end = new Date();
    const latency = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
    const calls = 100 + Math.floor(Math.random() * 900);
    latency[8] = calls;
    const window: WireTrafficWindow = {
      model: this.state!.models[0]!.name,
      version,
      rolloutId: null,
      start: new Date(end.getTime() - 10_000).toISOString(),
      end: end.toISOString(),
      calls,
      errors: 0,
      latency,
      mirrored: { calls: 0, errors: 0, compared: 0, agreed: 0, latency: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0) },
      outputs: [],
    };
    const t0 = performance.now();
    try {
      await this.client.reportTraffic(this.name, [window]);
      this.stats.record('window', performance.now() - t0);
    } catch (err) {
      this.stats.record('window', 0, err);
    }
  }

  close(): void {
    this.stopLoops();
    this.abort.abort();
  }

  private sha256(version: number): string | null {
    return this.state?.models[0]?.versions.find((v) => v.version === version)?.sha256 ?? null;
  }

  private later(fn: () => void, ms: number): void {
    if (this.abort.signal.aborted) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}

function routedVersion(state: DesiredState): number | undefined {
  const routes = state.models[0]?.routes ?? [];
  return routes.length === 0 ? undefined : [...routes].sort((a, b) => b.weight - a.weight)[0]!.version;
}
