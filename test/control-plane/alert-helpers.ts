// What the alert tests share: gateways that report windows with feedback and drift through the
// real reportTraffic mutation, and the evaluator driven by `tick(at)` on a clock the test moves.
import { LATENCY_BUCKETS_MS, REPORT_TRAFFIC_MUTATION } from '../../lib/sync-wire.js';
import { modelWithVersion, exampleOnnx, type TestControlPlane } from './harness.js';

export interface WindowFigures {
  version?: number;
  calls?: number;
  errors?: number;
  /** Every call in the bucket whose upper bound is this (ms). */
  ms?: number;
  feedback?: { count: number; correct: number; absError?: number; squaredError?: number } | null;
  drift?: { feature: string; rows: number; psi: number | null; level: 'ok' | 'warn' | 'alert' | null }[] | null;
}

export function latency(calls: number, ms: number): number[] {
  const out = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
  const i = LATENCY_BUCKETS_MS.findIndex((b) => b >= ms);
  out[i < 0 ? LATENCY_BUCKETS_MS.length : i] = calls;
  return out;
}

export function window(f: WindowFigures, model = 'weather') {
  const end = new Date();
  const calls = f.calls ?? 10;
  return {
    model,
    version: f.version ?? 1,
    rolloutId: null,
    start: new Date(end.getTime() - 1000).toISOString(),
    end: end.toISOString(),
    calls,
    errors: f.errors ?? 0,
    latency: latency(calls, f.ms ?? 1),
    mirrored: { calls: 0, errors: 0, compared: 0, agreed: 0, latency: latency(0, 1) },
    outputs: [],
    ...(f.feedback !== undefined ? { feedback: f.feedback === null ? null : { absError: 0, squaredError: 0, ...f.feedback } } : {}),
    ...(f.drift !== undefined ? { drift: f.drift } : {}),
  };
}

export interface TestGateway {
  name: string;
  /** Report windows; resolves with the latest time the control plane can have stamped them with. */
  report(windows: object[]): Promise<number>;
  send(windows: object[]): Promise<any>;
}

export async function gateway(cp: TestControlPlane, name: string): Promise<TestGateway> {
  const token = await cp.token('gateway', `${name}-token`);
  const r = await cp.gql('mutation($n: String!) { registerGateway(input: { name: $n }) { id } }', { n: name }, token);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  const send = (windows: object[]) => cp.gql(REPORT_TRAFFIC_MUTATION, { gateway: name, windows }, token);
  return {
    name,
    send,
    async report(windows) {
      const r = await send(windows);
      if (r.errors) throw new Error(JSON.stringify(r.errors));
      const stamped = Date.now();
      // The next report is stamped strictly later, so a test can put a window boundary between them.
      while (Date.now() <= stamped + 2) await new Promise((res) => setTimeout(res, 2));
      return stamped;
    },
  };
}

/** weather with version 1 as production. */
export async function weatherInProduction(cp: TestControlPlane): Promise<void> {
  await modelWithVersion(cp);
  const up = await cp.upload('weather', exampleOnnx('weather'), undefined, { allowDuplicate: true });
  if (up.errors) throw new Error(JSON.stringify(up.errors));
  await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
}

export const ALERT_FIELDS = 'id fingerprint rule model version metric feature severity state value threshold activeSince firedAt resolvedAt silencedUntil silenceReason';

export async function createRule(cp: TestControlPlane, input: Record<string, unknown>, token?: string): Promise<any> {
  const r = await cp.gql('mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id name versions metric feature minCount windowSeconds forSeconds severity webhooks labels { key value } } }', { input: { model: 'weather', comparison: '>', windowSeconds: 300, ...input } }, token);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data.createAlertRule;
}

export async function alerts(cp: TestControlPlane, state?: string): Promise<any[]> {
  const r = await cp.gql(`query($s: AlertState) { alerts(model: "weather", state: $s, first: 100) { edges { node { ${ALERT_FIELDS} deliveries { event state attempts } } } } }`, { s: state ?? null });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data.alerts.edges.map((e: any) => e.node);
}

/** One evaluator pass at `at` ms; throws when the replica did not evaluate (not the leader). */
export async function tick(cp: TestControlPlane, at: number) {
  const summary = await cp.server.alertEvaluator.tick(new Date(at));
  if (!summary) throw new Error('the evaluator did not run (not the leader, or the pass failed)');
  return summary;
}
