// `sluice alert list|rules|add-rule|silence`: alerts and their rules through a running control
// plane's GraphQL API (so every change is authorized and audited like any other call). Output is
// one JSON object per line, for people and for scripts alike.
import type { Writable } from 'node:stream';
import { SluiceError } from '../lib/errors.js';
import { defineCommand, type CommandSpec, type FlagTable, type FlagValues } from '../lib/flags.js';
import { LOG_LEVEL_FLAG, CLIENT_TLS_FLAGS } from './common-flags.js';
import { baseUrl, graphql } from './control-plane-commands.js';

const CONTROL_PLANE_FLAG = { type: 'string', default: 'http://127.0.0.1:8080', placeholder: 'url', description: 'control plane URL' } as const;
const READ_TOKEN_FLAG = { type: 'string', required: true, description: 'any person\'s token (viewer and up)' } as const;
const WRITE_TOKEN_FLAG = { type: 'string', required: true, description: 'operator or admin token' } as const;

const ALERT_FIELDS = 'id rule model version metric feature severity state value threshold activeSince firedAt resolvedAt silencedUntil';
const RULE_FIELDS = 'name model versions metric feature comparison threshold minCount windowSeconds forSeconds severity webhooks labels { key value } silencedUntil';

export const ALERT_LIST_COMMAND = defineCommand({
  name: 'alert list',
  summary: 'List alerts, newest first.',
  flags: {
    'control-plane': CONTROL_PLANE_FLAG, ...CLIENT_TLS_FLAGS,
    token: READ_TOKEN_FLAG,
    model: { type: 'string', description: 'only this model\'s alerts' },
    state: { type: 'string', choices: ['pending', 'firing', 'resolved'], description: 'only alerts in this state' },
    first: { type: 'int', default: 20, description: 'how many (at most 100)' },
    'log-level': LOG_LEVEL_FLAG,
  },
});

export const ALERT_RULES_COMMAND = defineCommand({
  name: 'alert rules',
  summary: 'List alert rules.',
  flags: {
    'control-plane': CONTROL_PLANE_FLAG, ...CLIENT_TLS_FLAGS,
    token: READ_TOKEN_FLAG,
    model: { type: 'string', description: 'only this model\'s rules' },
    'log-level': LOG_LEVEL_FLAG,
  },
});

export const ALERT_ADD_RULE_COMMAND = defineCommand({
  name: 'alert add-rule',
  summary: 'Create an alert rule over fleet-wide figures (drift PSI, accuracy, MAE, error rate, p99 latency).',
  flags: {
    'control-plane': CONTROL_PLANE_FLAG, ...CLIENT_TLS_FLAGS,
    token: WRITE_TOKEN_FLAG,
    name: { type: 'string', required: true, description: 'rule name' },
    model: { type: 'string', required: true, description: 'registered model name' },
    versions: { type: 'string', default: 'production', description: 'an alias, a version number, or * for every version' },
    metric: { type: 'string', required: true, choices: ['drift_psi', 'accuracy', 'mae', 'error_rate', 'latency_p99_ms', 'attribution_shift', 'slice_error_rate', 'slice_error_disparity'], description: 'the figure to watch' },
    feature: { type: 'string', description: 'drift_psi: the feature, or * for each; attribution_shift: a feature, * or none (whole shift); slice_error_rate: a slice, or * for each' },
    comparison: { type: 'string', default: '>', choices: ['>', '<'], description: 'fire when the figure is above (>) or below (<) the threshold' },
    threshold: { type: 'string', required: true, placeholder: 'x', description: 'the threshold (a number)' },
    'min-count': { type: 'int', description: 'fewest calls (error_rate, latency_p99_ms), feedback rows (accuracy, mae), explained rows (attribution_shift) or labelled rows per slice (slice_*) a figure needs' },
    window: { type: 'int', placeholder: 's', description: 'seconds of figures each evaluation looks at (default 300)' },
    for: { type: 'int', placeholder: 's', description: 'seconds the condition must hold before the alert fires (default 0)' },
    severity: { type: 'string', default: 'warning', choices: ['info', 'warning', 'critical'], description: 'severity' },
    webhooks: { type: 'list', placeholder: 'name,...', description: 'webhooks to notify' },
    labels: { type: 'list', placeholder: 'key=value,...', description: 'labels the notifications carry' },
    'log-level': LOG_LEVEL_FLAG,
  },
});

export const ALERT_SILENCE_COMMAND = defineCommand({
  name: 'alert silence',
  summary: 'Hold back an alert\'s (or a rule\'s) notifications for a while; its state is still tracked.',
  flags: {
    'control-plane': CONTROL_PLANE_FLAG, ...CLIENT_TLS_FLAGS,
    token: WRITE_TOKEN_FLAG,
    alert: { type: 'string', placeholder: 'id', description: 'the alert (alt_...)' },
    rule: { type: 'string', placeholder: 'name', description: 'or a rule: its alerts, also later ones' },
    minutes: { type: 'int', required: true, description: 'how long, in minutes (at most 30 days)' },
    reason: { type: 'string', required: true, description: 'why (audited)' },
    'log-level': LOG_LEVEL_FLAG,
  },
});

function number(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--${flag} must be a number, got "${value}"`, { details: { flag } });
  return n;
}

export function parseLabels(labels: readonly string[]): { key: string; value: string }[] {
  return labels.map((l) => {
    const at = l.indexOf('=');
    if (at < 1) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--labels takes key=value pairs, got "${l}"`, { details: { flag: 'labels' } });
    return { key: l.slice(0, at), value: l.slice(at + 1) };
  });
}

export async function runAlertList(v: FlagValues<typeof ALERT_LIST_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const data = await graphql(baseUrl(v['control-plane']), v.token, `query($m: String, $s: AlertState, $f: Int) { alerts(model: $m, state: $s, first: $f) { edges { node { ${ALERT_FIELDS} } } } }`, {
    m: v.model ?? null,
    s: v.state?.toUpperCase() ?? null,
    f: v.first,
  });
  for (const e of data.alerts.edges) out.write(`${JSON.stringify(e.node)}\n`);
  return 0;
}

export async function runAlertRules(v: FlagValues<typeof ALERT_RULES_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const data = await graphql(baseUrl(v['control-plane']), v.token, `query($m: String) { alertRules(model: $m) { ${RULE_FIELDS} } }`, { m: v.model ?? null });
  for (const r of data.alertRules) out.write(`${JSON.stringify(r)}\n`);
  return 0;
}

export async function runAlertAddRule(v: FlagValues<typeof ALERT_ADD_RULE_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const input = {
    name: v.name,
    model: v.model,
    versions: v.versions,
    metric: v.metric,
    feature: v.feature ?? null,
    comparison: v.comparison,
    threshold: number(v.threshold, 'threshold'),
    minCount: v['min-count'] ?? null,
    windowSeconds: v.window ?? null,
    forSeconds: v.for ?? null,
    severity: v.severity.toUpperCase(),
    webhooks: v.webhooks ?? [],
    labels: parseLabels(v.labels ?? []),
  };
  const data = await graphql(baseUrl(v['control-plane']), v.token, `mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { ${RULE_FIELDS} } }`, { input });
  out.write(`${JSON.stringify(data.createAlertRule)}\n`);
  return 0;
}

export async function runAlertSilence(v: FlagValues<typeof ALERT_SILENCE_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  if ((v.alert === undefined) === (v.rule === undefined)) throw new SluiceError('SLUICE_E_CONFIG_INVALID', 'give one of --alert or --rule', { details: { flag: 'alert' } });
  const until = new Date(Date.now() + v.minutes * 60_000).toISOString();
  const data = await graphql(baseUrl(v['control-plane']), v.token, `mutation($input: SilenceInput!) { silenceAlert(input: $input) { ${ALERT_FIELDS} } }`, {
    input: { alert: v.alert ?? null, rule: v.rule ?? null, until, reason: v.reason },
  });
  out.write(`${JSON.stringify({ silencedUntil: until, alerts: data.silenceAlert })}\n`);
  return 0;
}

type Register<C> = <F extends FlagTable>(spec: CommandSpec<F>, run: (values: FlagValues<F>) => Promise<number>) => C;

/** Every `sluice alert ...` command, made with the CLI's own `command` (cli/sluice.ts registers them in one line). */
export function alertCommands<C>(command: Register<C>): C[] {
  return [
    command(ALERT_LIST_COMMAND, (v) => runAlertList(v)),
    command(ALERT_RULES_COMMAND, (v) => runAlertRules(v)),
    command(ALERT_ADD_RULE_COMMAND, (v) => runAlertAddRule(v)),
    command(ALERT_SILENCE_COMMAND, (v) => runAlertSilence(v)),
  ];
}
