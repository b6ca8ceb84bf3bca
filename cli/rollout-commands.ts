// `sluice rollout start|status|watch|promote|pause|resume|abort|list`: the common rollout cases
// through a running control plane's GraphQL API (so every step is authorized and audited like any
// other call), with a live terminal view of weights and analysis. The view polls: it keeps working
// across a control-plane restart, which is exactly when an operator wants to watch.
import type { Writable } from 'node:stream';
import { SluiceError } from '../lib/errors.js';
import { defineCommand, type CommandSpec, type FlagTable, type FlagValues } from '../lib/flags.js';
import { GATE_OVERRIDE_FLAG, tokenFlag, ADMIN_CLIENT_FLAGS } from './common-flags.js';
import { baseUrl, graphql } from './control-plane-commands.js';

const TOKEN_FLAG = tokenFlag('operator or admin token (viewer for status, watch, list)');
const ID_FLAG = { type: 'string', required: true, placeholder: 'id', description: 'rollout id (ro_...)' } as const;
const TERMINAL = ['PROMOTED', 'ABORTED'];
const POLL_MS = 500;

const ROLLOUT_FIELDS = `id model stable candidate strategy phase currentStep weight message abortReason createdAt updatedAt finishedAt
  steps { setWeight pause { seconds } analysis { count } }
  analysis { intervalSeconds minCalls failureLimit }
  analysisRuns(last: 5) { status windowEnd message candidate { calls errors refused } stable { calls } conditions { metric operator threshold value passed } }`;

export const ROLLOUT_START_COMMAND = defineCommand({
  name: 'rollout start',
  summary: 'Start a rollout of a model version (canary, blue-green, A/B or shadow).',
  flags: {
    ...ADMIN_CLIENT_FLAGS,
    token: TOKEN_FLAG,
    model: { type: 'string', required: true, description: 'registered model name; its production alias is the stable version' },
    candidate: { type: 'int', required: true, placeholder: 'n', description: 'the version to roll out' },
    strategy: { type: 'string', default: 'canary', choices: ['canary', 'blue-green', 'ab', 'shadow'], description: 'rollout strategy' },
    steps: { type: 'list', placeholder: 'step,...', description: 'canary steps: weight=N, pause=SECONDS, pause (until resume), analysis[=COUNT]' },
    'max-error-rate': { type: 'string', placeholder: 'x', description: 'analysis: fail above this candidate error rate (0-1)' },
    'max-p99-ratio': { type: 'string', placeholder: 'x', description: 'analysis: fail above this candidate/stable p99 latency ratio' },
    'min-agreement': { type: 'string', placeholder: 'x', description: 'analysis: fail below this agreement on mirrored calls (0-1)' },
    'max-output-psi': { type: 'string', placeholder: 'x', description: "analysis: fail above this PSI of the candidate's outputs against stable's" },
    'analysis-interval': { type: 'int', placeholder: 's', description: 'analysis: seconds between runs (default 10)' },
    'min-calls': { type: 'int', placeholder: 'n', description: 'analysis: fewer candidate calls make a run inconclusive (default 50)' },
    'failure-limit': { type: 'int', placeholder: 'n', description: 'analysis: failed runs allowed before the abort (default 0)' },
    weight: { type: 'int', placeholder: 'percent', description: 'A/B: percent of calls to the candidate' },
    'mirror-share': { type: 'string', placeholder: 'x', description: 'canary/shadow/blue-green: share of calls copied to the other version (0-1)' },
    'scale-down-delay': { type: 'int', placeholder: 's', description: 'blue-green: seconds the old version stays loaded after the switch' },
    'auto-promotion': { type: 'int', placeholder: 's', description: 'blue-green: switch this many seconds after the analysis passed' },
    'gate-override': GATE_OVERRIDE_FLAG,
    watch: { type: 'boolean', default: false, description: 'then show the rollout live until it ends' },
  },
});

const idCommand = (verb: string, summary: string) =>
  defineCommand({
    name: `rollout ${verb}`,
    summary,
    flags: { ...ADMIN_CLIENT_FLAGS, token: TOKEN_FLAG, id: ID_FLAG },
  });

export const ROLLOUT_PROMOTE_COMMAND = idCommand('promote', 'Promote a rollout now (blue-green: switch traffic to the candidate).');
export const ROLLOUT_PAUSE_COMMAND = idCommand('pause', 'Pause a progressing rollout.');
export const ROLLOUT_RESUME_COMMAND = idCommand('resume', 'Resume a paused rollout (ends an indefinite pause step).');
export const ROLLOUT_WATCH_COMMAND = idCommand('watch', 'Show a rollout live (weights, analysis) until it ends; exit 0 when promoted, 1 when aborted.');

export const ROLLOUT_STATUS_COMMAND = defineCommand({
  name: 'rollout status',
  summary: "Show a rollout's phase, weights and latest analysis runs.",
  flags: { ...ADMIN_CLIENT_FLAGS, token: TOKEN_FLAG, id: ID_FLAG, watch: { type: 'boolean', default: false, description: 'keep showing it until it ends' }, json: { type: 'boolean', default: false, description: 'print the rollout as JSON' } },
});

export const ROLLOUT_ABORT_COMMAND = defineCommand({
  name: 'rollout abort',
  summary: 'Abort a rollout: every gateway goes back to the stable version.',
  flags: { ...ADMIN_CLIENT_FLAGS, token: TOKEN_FLAG, id: ID_FLAG, reason: { type: 'string', description: 'why (recorded)' } },
});

export const ROLLOUT_LIST_COMMAND = defineCommand({
  name: 'rollout list',
  summary: 'List rollouts, newest first.',
  flags: { ...ADMIN_CLIENT_FLAGS, token: TOKEN_FLAG, model: { type: 'string', description: 'only this model' }, first: { type: 'int', default: 20, description: 'how many' } },
});

function number(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--${flag} must be a number, got "${value}"`, { details: { flag } });
  return n;
}

/** `weight=10`, `pause=30`, `pause`, `analysis`, `analysis=2` → StartRolloutInput steps. */
export function parseSteps(items: readonly string[]): object[] {
  return items.map((item) => {
    const [kind, value] = item.split('=', 2) as [string, string | undefined];
    const n = value === undefined ? undefined : Number(value);
    if (value !== undefined && (value === '' || !Number.isInteger(n))) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--steps: "${item}" needs a whole number after =`, { details: { flag: 'steps' } });
    if (kind === 'weight' && n !== undefined) return { setWeight: n };
    if (kind === 'pause') return { pause: n === undefined ? {} : { seconds: n } };
    if (kind === 'analysis') return { analysis: n === undefined ? {} : { count: n } };
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--steps: unknown step "${item}" (weight=N, pause=SECONDS, pause, analysis[=COUNT])`, { details: { flag: 'steps' } });
  });
}

export function startInput(v: FlagValues<typeof ROLLOUT_START_COMMAND.flags>): Record<string, unknown> {
  const thresholds = {
    maxErrorRate: number(v['max-error-rate'], 'max-error-rate'),
    maxP99Ratio: number(v['max-p99-ratio'], 'max-p99-ratio'),
    minAgreement: number(v['min-agreement'], 'min-agreement'),
    maxOutputPsi: number(v['max-output-psi'], 'max-output-psi'),
    intervalSeconds: v['analysis-interval'],
    minCalls: v['min-calls'],
    failureLimit: v['failure-limit'],
  };
  const hasAnalysis = Object.values(thresholds).some((x) => x !== undefined);
  const input: Record<string, unknown> = {
    model: v.model,
    candidate: v.candidate,
    strategy: v.strategy.toUpperCase().replace('-', '_'),
    ...(v.steps ? { steps: parseSteps(v.steps) } : {}),
    ...(hasAnalysis ? { analysis: thresholds } : {}),
    weight: v.weight,
    mirrorShare: number(v['mirror-share'], 'mirror-share'),
    scaleDownDelaySeconds: v['scale-down-delay'],
    autoPromotionSeconds: v['auto-promotion'],
    gateOverride: v['gate-override'],
  };
  return Object.fromEntries(Object.entries(input).filter(([, x]) => x !== undefined));
}

function bar(percent: number, width = 20): string {
  const full = Math.round((percent / 100) * width);
  return `${'#'.repeat(full)}${'.'.repeat(width - full)}`;
}

function fmt(x: number | null): string {
  return x === null ? '-' : Number.isInteger(x) ? String(x) : x.toFixed(3);
}

/** The rollout as a few lines of text (the live view redraws these). */
export function renderRollout(r: any): string {
  const steps = r.steps.length > 0 ? `  step ${Math.min(r.currentStep + 1, r.steps.length)}/${r.steps.length}` : '';
  const lines = [
    `rollout ${r.id}  ${r.model}  ${r.strategy}  v${r.stable} -> v${r.candidate}  ${r.phase}${steps}`,
    `  v${r.stable} stable     ${bar(100 - r.weight)} ${String(100 - r.weight).padStart(3)}%`,
    `  v${r.candidate} candidate  ${bar(r.weight)} ${String(r.weight).padStart(3)}%`,
    `  ${r.message}${r.abortReason ? `  (reason: ${r.abortReason})` : ''}`,
  ];
  if (r.analysis) {
    lines.push(`  analysis every ${r.analysis.intervalSeconds} s, minCalls ${r.analysis.minCalls}, failureLimit ${r.analysis.failureLimit}`);
    for (const a of r.analysisRuns) {
      const conditions = a.conditions.map((c: any) => `${c.metric} ${fmt(c.value)} ${c.operator} ${c.threshold} ${c.passed === null ? '?' : c.passed ? 'ok' : 'FAIL'}`).join('  ');
      // Refusals at admission are not judged (docs/rollouts.md), but a run they leave short of minCalls should say why.
      const refused = a.candidate.refused > 0 ? ` (${a.candidate.refused} refused)` : '';
      lines.push(`    ${a.windowEnd.slice(11, 19)} ${a.status.padEnd(12)} calls ${a.candidate.calls}/${a.stable.calls}${refused}  ${conditions}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

async function fetchRollout(base: string, token: string, id: string): Promise<any> {
  const data = await graphql(base, token, `query($id: ID!) { rollout(id: $id) { ${ROLLOUT_FIELDS} } }`, { id });
  if (!data.rollout) throw new SluiceError('SLUICE_E_ROLLOUT_NOT_FOUND', `no rollout ${id}`, { details: { rollout: id } });
  return data.rollout;
}

/** One line per change when the output is not a terminal (a log, a pipe). */
export function rolloutLine(r: any): string {
  const run = r.analysisRuns.at(-1);
  const analysis = run ? `  analysis ${run.status} (${run.message})` : '';
  return `${new Date().toISOString().slice(11, 19)} ${r.phase} step ${r.currentStep}/${r.steps.length} v${r.stable} ${100 - r.weight}% v${r.candidate} ${r.weight}%  ${r.message}${analysis}\n`;
}

/**
 * Redraw the rollout at each change until it ends (a terminal gets one view in place, anything
 * else one line per change); a control plane that is away for a while (a restart) is waited for.
 */
export async function watchRollout(base: string, token: string, id: string, out: Writable = process.stdout, tty = (out as { isTTY?: boolean }).isTTY === true): Promise<number> {
  let last = '';
  let lastLines = 0;
  for (;;) {
    let r: any;
    try {
      r = await fetchRollout(base, token, id);
    } catch (err) {
      if (!(err instanceof SluiceError) || err.code !== 'SLUICE_E_CONFIG_INVALID') throw err;
      await new Promise((res) => setTimeout(res, POLL_MS));
      continue;
    }
    const text = tty ? renderRollout(r) : rolloutLine(r).slice(9);
    if (text !== last) {
      if (tty && lastLines > 0) out.write(`\x1b[${lastLines}A\x1b[J`);
      out.write(tty ? text : rolloutLine(r));
      last = text;
      lastLines = text.split('\n').length - 1;
    }
    if (TERMINAL.includes(r.phase)) return r.phase === 'PROMOTED' ? 0 : 1;
    await new Promise((res) => setTimeout(res, POLL_MS));
  }
}

export async function runRolloutStart(v: FlagValues<typeof ROLLOUT_START_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const base = baseUrl(v['control-plane']);
  const data = await graphql(base, v.token, `mutation($input: StartRolloutInput!) { startRollout(input: $input) { id model stable candidate strategy phase } }`, { input: startInput(v) });
  out.write(`${JSON.stringify(data.startRollout)}\n`);
  return v.watch ? watchRollout(base, v.token, data.startRollout.id, out) : 0;
}

export async function runRolloutStatus(v: FlagValues<typeof ROLLOUT_STATUS_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const base = baseUrl(v['control-plane']);
  if (v.watch) return watchRollout(base, v.token, v.id, out);
  const r = await fetchRollout(base, v.token, v.id);
  out.write(v.json ? `${JSON.stringify(r)}\n` : renderRollout(r));
  return 0;
}

export async function runRolloutWatch(v: FlagValues<typeof ROLLOUT_WATCH_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  return watchRollout(baseUrl(v['control-plane']), v.token, v.id, out);
}

/** promote, pause, resume, abort: one mutation, then the rollout as JSON. */
export async function runRolloutAction(verb: 'promote' | 'pause' | 'resume' | 'abort', v: { 'control-plane': string; token: string; id: string; reason?: string | undefined }, out: Writable = process.stdout): Promise<number> {
  const field = `${verb}Rollout`;
  const args = verb === 'abort' ? '(id: $id, reason: $reason)' : '(id: $id)';
  const vars = verb === 'abort' ? '($id: ID!, $reason: String)' : '($id: ID!)';
  const data = await graphql(baseUrl(v['control-plane']), v.token, `mutation${vars} { ${field}${args} { id phase weight message abortReason } }`, { id: v.id, ...(verb === 'abort' ? { reason: v.reason ?? null } : {}) });
  out.write(`${JSON.stringify(data[field])}\n`);
  return 0;
}

export async function runRolloutList(v: FlagValues<typeof ROLLOUT_LIST_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const data = await graphql(baseUrl(v['control-plane']), v.token, `query($m: String, $f: Int) { rollouts(model: $m, first: $f) { edges { node { id model strategy stable candidate phase weight createdAt finishedAt } } } }`, { m: v.model ?? null, f: v.first });
  for (const e of data.rollouts.edges) out.write(`${JSON.stringify(e.node)}\n`);
  return 0;
}

type Register<C> = <F extends FlagTable>(spec: CommandSpec<F>, run: (values: FlagValues<F>) => Promise<number>) => C;

/** Every `sluice rollout ...` command, made with the CLI's own `command` (so cli/sluice.ts registers them in one line). */
export function rolloutCommands<C>(command: Register<C>): C[] {
  return [
    command(ROLLOUT_START_COMMAND, (v) => runRolloutStart(v)),
    command(ROLLOUT_STATUS_COMMAND, (v) => runRolloutStatus(v)),
    command(ROLLOUT_WATCH_COMMAND, (v) => runRolloutWatch(v)),
    command(ROLLOUT_PROMOTE_COMMAND, (v) => runRolloutAction('promote', v)),
    command(ROLLOUT_PAUSE_COMMAND, (v) => runRolloutAction('pause', v)),
    command(ROLLOUT_RESUME_COMMAND, (v) => runRolloutAction('resume', v)),
    command(ROLLOUT_ABORT_COMMAND, (v) => runRolloutAction('abort', v)),
    command(ROLLOUT_LIST_COMMAND, (v) => runRolloutList(v)),
  ];
}
