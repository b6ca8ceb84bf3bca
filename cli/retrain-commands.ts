// `sluice retrain policy set|show`, `retrain runs|pause|resume|stop` and `sluice timeline`: the
// retraining loop (issue 16) through a running control plane's GraphQL API, so every step is
// authorized and audited like any other call.
import { readFile } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { SluiceError } from '../lib/errors.js';
import { defineCommand, type CommandSpec, type FlagTable, type FlagValues } from '../lib/flags.js';
import { tokenFlag, ADMIN_CLIENT_FLAGS } from './common-flags.js';
import { baseUrl, graphql } from './control-plane-commands.js';

const READ_TOKEN = tokenFlag('any person token (viewer or above)');
const WRITE_TOKEN = tokenFlag('operator or admin token');
const MODEL_FLAG = { type: 'string', required: true, description: 'registered model name' } as const;
const RUN_FIELDS = 'id model policyRevision state active triggers { ruleName metric feature version value threshold } jobId version gateReportId rolloutId message createdAt finishedAt';
const POLL_MS = 1000;

export const RETRAIN_POLICY_SET_COMMAND = defineCommand({
  name: 'retrain policy set',
  summary: "Set a model's retraining policy from a JSON file (a new revision; docs/lifecycle.md).",
  flags: { ...ADMIN_CLIENT_FLAGS, token: WRITE_TOKEN, model: MODEL_FLAG, file: { type: 'string', required: true, placeholder: 'policy.json', description: 'the policy' } },
});
export const RETRAIN_POLICY_SHOW_COMMAND = defineCommand({
  name: 'retrain policy show',
  summary: "Show a model's retraining policy and whether its loop is paused.",
  flags: { ...ADMIN_CLIENT_FLAGS, token: READ_TOKEN, model: MODEL_FLAG },
});
export const RETRAIN_RUNS_COMMAND = defineCommand({
  name: 'retrain runs',
  summary: 'List retraining runs, newest first (one JSON object per line).',
  flags: { ...ADMIN_CLIENT_FLAGS, token: READ_TOKEN, model: { type: 'string', description: 'only this model' }, last: { type: 'int', default: 20, placeholder: 'n', description: 'how many' } },
});
export const RETRAIN_PAUSE_COMMAND = defineCommand({
  name: 'retrain pause',
  summary: "Pause a model's retraining loop: no run starts, the active one holds at its next step.",
  flags: { ...ADMIN_CLIENT_FLAGS, token: WRITE_TOKEN, model: MODEL_FLAG, reason: { type: 'string', description: 'why (audited)' } },
});
export const RETRAIN_RESUME_COMMAND = defineCommand({
  name: 'retrain resume',
  summary: "Resume a model's retraining loop.",
  flags: { ...ADMIN_CLIENT_FLAGS, token: WRITE_TOKEN, model: MODEL_FLAG },
});
export const RETRAIN_STOP_COMMAND = defineCommand({
  name: 'retrain stop',
  summary: "Stop a retraining run: cancel its job or abort its rollout.",
  flags: { ...ADMIN_CLIENT_FLAGS, token: WRITE_TOKEN, id: { type: 'string', required: true, placeholder: 'id', description: 'run id (rt_...)' }, reason: { type: 'string', description: 'why (audited)' } },
});
export const TIMELINE_COMMAND = defineCommand({
  name: 'timeline',
  summary: "A model's timeline: alerts, retraining runs, jobs, versions, gate reports, rollouts, people's acts.",
  flags: {
    ...ADMIN_CLIENT_FLAGS,
    token: READ_TOKEN,
    model: MODEL_FLAG,
    last: { type: 'int', default: 50, placeholder: 'n', description: 'the newest n events' },
    follow: { type: 'boolean', default: false, description: 'keep printing new events until interrupted' },
    json: { type: 'boolean', default: false, description: 'one JSON object per event' },
  },
});

interface TimelineEvent {
  at: string;
  kind: string;
  summary: string;
  actor: string | null;
  runId: string | null;
}

export function timelineLine(e: TimelineEvent): string {
  const who = e.actor ? ` (${e.actor})` : '';
  const run = e.runId ? ` [${e.runId}]` : '';
  return `${e.at.replace('T', ' ').slice(0, 19)}  ${e.kind.padEnd(22)} ${e.summary}${who}${run}\n`;
}

export async function runTimeline(v: FlagValues<typeof TIMELINE_COMMAND.flags>, out: Writable = process.stdout, signal?: AbortSignal): Promise<number> {
  const base = baseUrl(v['control-plane']);
  const seen = new Set<string>();
  const query = `query($m: String!, $n: Int) { modelTimeline(model: $m, last: $n) { at kind summary actor runId alertId jobId version gateReportId rolloutId } }`;
  for (;;) {
    const data = await graphql(base, v.token, query, { m: v.model, n: v.last });
    for (const e of data.modelTimeline as TimelineEvent[]) {
      const key = `${e.at} ${e.kind} ${e.summary}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.write(v.json ? `${JSON.stringify(e)}\n` : timelineLine(e));
    }
    if (!v.follow || signal?.aborted) return 0;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function readPolicy(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new SluiceError('SLUICE_E_CONFIG_FILE_MISSING', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { details: { flag: 'file' } });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new SluiceError('SLUICE_E_RETRAIN_POLICY_INVALID', `${file} is not JSON: ${(err as Error).message}`, { details: { flag: 'file' } });
  }
}

export async function runRetrainPolicySet(v: FlagValues<typeof RETRAIN_POLICY_SET_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const policy = await readPolicy(v.file);
  const data = await graphql(baseUrl(v['control-plane']), v.token, `mutation($m: String!, $p: JSON!) { setRetrainingPolicy(model: $m, policy: $p) { model revision policy createdAt createdBy } }`, { m: v.model, p: policy });
  out.write(`${JSON.stringify(data.setRetrainingPolicy)}\n`);
  return 0;
}

export async function runRetrainPolicyShow(v: FlagValues<typeof RETRAIN_POLICY_SHOW_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const data = await graphql(baseUrl(v['control-plane']), v.token, `query($m: String!) { retrainingPolicy(model: $m) { model revision policy createdAt createdBy } retrainingState(model: $m) { paused reason updatedAt updatedBy } }`, { m: v.model });
  out.write(`${JSON.stringify({ policy: data.retrainingPolicy, state: data.retrainingState })}\n`);
  return 0;
}

export async function runRetrainRuns(v: FlagValues<typeof RETRAIN_RUNS_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const data = await graphql(baseUrl(v['control-plane']), v.token, `query($m: String, $n: Int) { retrainingRuns(model: $m, last: $n) { ${RUN_FIELDS} } }`, { m: v.model ?? null, n: v.last });
  for (const r of data.retrainingRuns) out.write(`${JSON.stringify(r)}\n`);
  return 0;
}

export async function runRetrainPause(paused: boolean, v: { 'control-plane': string; token: string; model: string; reason?: string | undefined }, out: Writable = process.stdout): Promise<number> {
  const data = paused
    ? await graphql(baseUrl(v['control-plane']), v.token, `mutation($m: String!, $r: String) { pauseRetraining(model: $m, reason: $r) { model paused reason updatedBy } }`, { m: v.model, r: v.reason ?? null })
    : await graphql(baseUrl(v['control-plane']), v.token, `mutation($m: String!) { resumeRetraining(model: $m) { model paused reason updatedBy } }`, { m: v.model });
  out.write(`${JSON.stringify(paused ? data.pauseRetraining : data.resumeRetraining)}\n`);
  return 0;
}

export async function runRetrainStop(v: FlagValues<typeof RETRAIN_STOP_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const data = await graphql(baseUrl(v['control-plane']), v.token, `mutation($id: ID!, $r: String) { stopRetrainingRun(id: $id, reason: $r) { ${RUN_FIELDS} } }`, { id: v.id, r: v.reason ?? null });
  out.write(`${JSON.stringify(data.stopRetrainingRun)}\n`);
  return 0;
}

type Register<C> = <F extends FlagTable>(spec: CommandSpec<F>, run: (values: FlagValues<F>) => Promise<number>) => C;

/** Every `sluice retrain ...` command and `sluice timeline`, made with the CLI's own `command`. */
export function retrainCommands<C>(command: Register<C>): C[] {
  return [
    command(RETRAIN_POLICY_SET_COMMAND, (v) => runRetrainPolicySet(v)),
    command(RETRAIN_POLICY_SHOW_COMMAND, (v) => runRetrainPolicyShow(v)),
    command(RETRAIN_RUNS_COMMAND, (v) => runRetrainRuns(v)),
    command(RETRAIN_PAUSE_COMMAND, (v) => runRetrainPause(true, v)),
    command(RETRAIN_RESUME_COMMAND, (v) => runRetrainPause(false, v)),
    command(RETRAIN_STOP_COMMAND, (v) => runRetrainStop(v)),
    command(TIMELINE_COMMAND, (v) => runTimeline(v)),
  ];
}
