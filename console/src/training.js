// Training jobs: the list, and one job live (trainingJobChanged over SSE) with its log lines as
// they come and a curve per metric the trainer prints per epoch ({"epoch":3,"loss":0.41} lines,
// the runner's progress contract in control-plane/runner/executor.ts).
import { useEffect, useState } from 'preact/hooks';
import { gql, may, subscribe } from './api.js';
import { Chart } from './chart.js';
import { Badge, Failure, html, link, Loading, num, useQuery, when } from './ui.js';

const STATUS_KIND = { SUCCEEDED: 'ok', FAILED: 'bad', CANCELLED: 'warn', RUNNING: 'info', QUEUED: '' };

export function TrainingPage({ model }) {
  const q = useQuery(() => gql(`query($model: String) { trainingJobs(model: $model, first: 50) { edges { node { id model status createdAt createdBy finishedAt metrics { name value } version { number } } } } }`, { model: model ?? null }), [model], 5000);
  return html`<h1>Training jobs${model ? ` of ${model}` : ''}</h1>
    <${Loading} q=${q}>${(d) => d.trainingJobs.edges.length === 0 ? html`<p class="muted">No training jobs yet.</p>` : html`<table class="list" data-testid="jobs">
      <thead><tr><th>job</th><th>model</th><th>status</th><th>metrics</th><th>version</th><th>submitted</th></tr></thead>
      <tbody>${d.trainingJobs.edges.map(({ node: j }) => html`<tr>
        <td><a href=${link(`/training/${j.id}`)}>${j.id.slice(0, 8)}</a></td><td>${j.model}</td>
        <td><${Badge} kind=${STATUS_KIND[j.status]}>${j.status}<//></td>
        <td>${j.metrics.slice(0, 3).map((m) => `${m.name} ${num(m.value)}`).join(', ')}</td>
        <td>${j.version ? `v${j.version.number}` : '—'}</td><td>${when(j.createdAt)} by ${j.createdBy}</td></tr>`)}</tbody></table>`}<//>`;
}

const JOB = `id model status cancelRequested createdAt createdBy startedAt finishedAt parameters
  trainer { kind builtin command digest } dataset { url sha256 }
  error { code message } metrics { name value } version { number }
  attempts { number runner status startedAt finishedAt }`;

/** Per-epoch points from the JSON log lines: { metric: [[epoch], [value]] }. */
export function epochCurves(lines) {
  const curves = {};
  for (const l of lines) {
    if (l.stream !== 'stdout' || l.line[0] !== '{') continue;
    let o;
    try {
      o = JSON.parse(l.line);
    } catch {
      continue;
    }
    if (typeof o.epoch !== 'number') continue;
    for (const [k, v] of Object.entries(o)) {
      if (k === 'epoch' || typeof v !== 'number' || !Number.isFinite(v)) continue;
      const c = (curves[k] ??= [[], []]);
      c[0].push(o.epoch + (l.attempt - 1) * 1e-6);
      c[1].push(v);
    }
  }
  return curves;
}

export function JobPage({ id, me }) {
  const [job, setJob] = useState(undefined);
  const [logs, setLogs] = useState([]);
  const [error, setError] = useState(undefined);
  useEffect(() => {
    setJob(undefined);
    setLogs([]);
    const seen = new Set();
    // The first event carries the job only; the lines so far come from the query (its newest 1,000:
    // the API's cost limit), later ones with each event.
    gql(`query($id: ID!) { trainingJob(id: $id) { logs(first: 1000) { seq attempt at stream line } } }`, { id }).then((d) => {
      const lines = d.trainingJob?.logs ?? [];
      setLogs((old) => merge(old, lines, seen));
    }, setError);
    return subscribe(`subscription($id: ID!) { trainingJobChanged(id: $id) { job { ${JOB} } logs { seq attempt at stream line } } }`, { id }, (d) => {
      setJob(d.trainingJobChanged.job);
      setLogs((old) => merge(old, d.trainingJobChanged.logs, seen));
    }, setError);
  }, [id]);
  if (job === undefined) return html`<${Failure} error=${error} /><p class="muted">Connecting…</p>`;
  const curves = epochCurves(logs);
  const live = job.status === 'QUEUED' || job.status === 'RUNNING';
  const cancel = async () => {
    try {
      await gql(`mutation($id: ID!) { cancelTrainingJob(id: $id) { id } }`, { id });
    } catch (err) {
      setError(err);
    }
  };
  return html`<h1>Training job <span class="mono">${job.id.slice(0, 8)}</span> <${Badge} kind=${STATUS_KIND[job.status]}><span data-testid="job-status">${job.status}</span><//></h1>
    <${Failure} error=${error} />
    <p><a href=${link(`/models/${job.model}`)}>${job.model}</a> · trainer ${job.trainer.builtin ?? job.trainer.command?.join(' ')} · submitted ${when(job.createdAt)} by ${job.createdBy}${job.version ? html` · registered <a href=${link(`/models/${job.model}`)}>v${job.version.number}</a>` : null}</p>
    ${job.error ? html`<div class="failure"><b>${job.error.code}</b> ${job.error.message}</div>` : null}
    ${live && !job.cancelRequested && may(me, 'training:write') ? html`<div class="actions"><button class="danger" onClick=${cancel}>Cancel</button></div>` : null}
    <div class="grid2">
      ${Object.entries(curves).map(([metric, [x, y]]) => html`<section class="card"><h3>${metric} per epoch</h3>
        <${Chart} name=${`epoch-${metric}`} x=${x} series=${[{ label: metric, values: y }]} xLabel="epoch" height=${200} /></section>`)}
      <section class="card"><h3>Metrics</h3><dl>${job.metrics.map((m) => html`<dt>${m.name}</dt><dd>${num(m.value, 4)}</dd>`)}</dl>
        <h4>Parameters</h4><pre class="mono">${JSON.stringify(job.parameters, null, 1)}</pre></section>
    </div>
    <h2>Logs <small class="muted">${logs.length} lines${live ? ', streaming' : ''}</small></h2>
    <pre class="logs" data-testid="logs">${logs.slice(-400).map((l) => html`<span class=${l.stream}>${`${l.line}\n`}</span>`)}</pre>`;
}

function merge(old, lines, seen) {
  const fresh = lines.filter((l) => !seen.has(l.seq));
  if (fresh.length === 0) return old;
  for (const l of fresh) seen.add(l.seq);
  return [...old, ...fresh].sort((a, b) => a.seq - b.seq);
}
