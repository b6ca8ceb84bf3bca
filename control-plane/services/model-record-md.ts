// A model version's record as Markdown, for a compliance officer to file: the same facts as the
// JSON (model-record.ts), in sections, every value taken from the record.
import type { ModelVersionRecord } from './model-record.js';

function cell(v: unknown): string {
  if (v === null || v === undefined || v === '') return '—';
  const s = typeof v === 'string' ? v : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : JSON.stringify(v);
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function table(head: string[], rows: unknown[][]): string[] {
  if (rows.length === 0) return ['_None recorded._', ''];
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`), ''];
}

function fields(pairs: [string, unknown][]): string[] {
  return [...pairs.map(([k, v]) => `- **${k}**: ${cell(v)}`), ''];
}

export function modelRecordMarkdown(r: ModelVersionRecord): string {
  const v = r.version;
  const job = r.lineage.trainingJob;
  const sig = v.signature as { inputs?: { name: string; datatype: string; shape: number[] }[]; outputs?: { name: string; datatype: string; shape: number[] }[] } | null;
  const tensors = [...(sig?.inputs ?? []).map((t) => ['input', t.name, t.datatype, t.shape]), ...(sig?.outputs ?? []).map((t) => ['output', t.name, t.datatype, t.shape])];
  const out = [
    `# Model record: ${r.model.name} version ${v.number}`,
    '',
    `Generated ${r.generatedAt} by the Sluice control plane from its recorded data.`,
    '',
    '## What it is',
    '',
    ...fields([
      ['Model', r.model.name], ['Model description', r.model.description], ['Owner', r.model.owner],
      ['Allowed regions', r.model.allowedRegions?.join(', ') ?? 'any'], ['Version description', v.description],
      ['Status', v.status], ['Aliases', v.aliases.join(', ')], ['Registered', `${v.createdAt} by ${v.createdBy}`],
      ['Artifact sha256', v.artifactSha256], ['Config sha256', v.configSha256], ['Drift profile sha256', v.profileSha256],
      ['Signed statement', v.signed ? 'yes' : 'no'],
    ]),
    '### Signature',
    '',
    ...table(['Kind', 'Name', 'Datatype', 'Shape'], tensors),
    '### Metrics at registration',
    '',
    ...table(['Metric', 'Value'], Object.entries(v.metrics)),
    '## Where it came from',
    '',
    ...fields([
      ['Training job', job ? `${job.id} (${job.status}), submitted ${job.createdAt} by ${job.createdBy}, finished ${job.finishedAt ?? '—'}` : null],
      ['Trainer', job?.trainer], ['Trainer digest', r.lineage.trainerDigest], ['Dataset', job?.dataset],
      ['Dataset digest', r.lineage.datasetDigest], ['Source', r.lineage.source], ['Retrained from version', r.lineage.parentVersion],
    ]),
    '### Parameters',
    '',
    ...table(['Parameter', 'Value'], Object.entries(r.lineage.parameters)),
    '## What it was checked against',
    '',
  ];
  if (r.gates.length === 0) out.push('_No gate report recorded._', '');
  for (const g of r.gates) {
    out.push(`### Gate report ${g.id}: ${g.passed ? 'passed' : 'FAILED'}`, '', `${g.at} by ${g.by}; compared with production version ${g.productionVersion ?? '—'}; policy revision ${g.policyRevision ?? '—'}.`, '');
    out.push(...table(['Check', 'Name', 'Passed', 'Measured', 'Limit', 'Detail'], (g.checks as { kind: string; name: string; passed: boolean; measured: number | null; limit: number | null; detail?: string; message?: string }[])
      .map((c) => [c.kind, c.name, c.passed ? 'yes' : 'NO', c.measured, c.limit, c.detail ?? c.message ?? ''])));
  }
  out.push('## Who approved it', '', ...table(['When', 'Approver', 'Comment'], r.approvals.map((a) => [a.at, a.approver, a.comment])));
  out.push('## Where it has run', '', '### Gateways', '', ...table(['Gateway', 'Region', 'First window', 'Last window', 'Windows', 'Calls', 'Errors'],
    r.served.map((p) => [p.gateway, p.region, p.firstSeen, p.lastSeen, p.windows, p.calls, p.errors])));
  out.push('### Rollouts', '');
  if (r.rollouts.length === 0) out.push('_None recorded._', '');
  for (const ro of r.rollouts) {
    out.push(`#### Rollout ${ro.id}: ${ro.strategy}, version ${ro.stable} → ${ro.candidate} (this version is the ${ro.role}), ${ro.phase}`, '',
      `Started ${ro.startedAt} by ${ro.startedBy}; finished ${ro.finishedAt ?? '—'}${ro.abortReason ? `; aborted: ${ro.abortReason}` : ''}. ${ro.message}`, '',
      ...table(['Step', 'Window start', 'Window end', 'Analysis', 'Message'], ro.analysis.map((a) => [a.step, a.windowStart, a.windowEnd, a.status, a.message])));
  }
  out.push('## Drift and accuracy history', '', ...table(['Gateway', 'Window end', 'Calls', 'Errors', 'Labelled', 'Accuracy', 'Mean abs. error', 'Max PSI', 'Drift'],
    r.history.map((w) => [w.gateway, w.end, w.calls, w.errors, w.feedbackCount, w.accuracy, w.meanAbsError, w.maxPsi, w.driftLevel])));
  out.push('## Audit events', '');
  if (r.audit === null) out.push('_Not included: reading the audit log needs the audit:read permission._', '');
  else {
    const c = r.audit.chain;
    out.push(`Audit chain: **${c.ok ? 'verified' : 'BROKEN'}** over ${c.checkedEvents} events${c.firstBad ? `; first break at seq ${c.firstBad.seq} (${c.firstBad.reason})` : ''}.`, '',
      ...table(['Seq', 'When', 'Actor', 'Role', 'Action', 'Resource', 'Outcome', 'Hash'], r.audit.events.map((e) => [e.seq, e.at, e.actor, e.role, e.action, e.resource, e.outcome, e.hash.slice(0, 16)])));
  }
  return out.join('\n');
}
