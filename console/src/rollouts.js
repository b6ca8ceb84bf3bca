// Rollouts: the list, and one rollout live (rolloutChanged over SSE): its steps and weights, each
// analysis run's measured values against the thresholds, and promote / pause / resume / abort for
// the roles that may use them (operator, admin); others see no buttons.
import { useEffect, useState } from 'preact/hooks';
import { gql, may, subscribe } from './api.js';
import { Chart } from './chart.js';
import { Badge, Failure, html, link, Loading, num, useQuery, when } from './ui.js';

const PHASE_KIND = { PROGRESSING: 'info', PAUSED: 'warn', SWITCHED: 'info', PROMOTED: 'ok', ABORTED: 'bad' };
const LIVE = ['PROGRESSING', 'PAUSED', 'SWITCHED'];

export function RolloutsPage({ model }) {
  const q = useQuery(() => gql(`query($model: String) { rollouts(model: $model, first: 50) { edges { node { id model stable candidate strategy phase weight createdAt createdBy } } } }`, { model: model ?? null }), [model], 5000);
  return html`<h1>Rollouts${model ? ` of ${model}` : ''}</h1>
    <${Loading} q=${q}>${(d) => d.rollouts.edges.length === 0 ? html`<p class="muted">No rollouts yet.</p>` : html`<table class="list" data-testid="rollouts">
      <thead><tr><th>rollout</th><th>model</th><th>strategy</th><th>stable → candidate</th><th>phase</th><th>weight</th><th>started</th></tr></thead>
      <tbody>${d.rollouts.edges.map(({ node: r }) => html`<tr>
        <td><a href=${link(`/rollouts/${r.id}`)}>${r.id.slice(0, 8)}</a></td><td>${r.model}</td><td>${r.strategy}</td>
        <td>v${r.stable} → v${r.candidate}</td><td><${Badge} kind=${PHASE_KIND[r.phase]}>${r.phase}<//></td><td>${r.weight}%</td><td>${when(r.createdAt)} by ${r.createdBy}</td></tr>`)}</tbody></table>`}<//>`;
}

const ROLLOUT = `id model stable candidate strategy phase currentStep weight message abortReason createdAt createdBy stepStartedAt nextAnalysisAt finishedAt
  weights { version weight }
  steps { setWeight pause { seconds } analysis { count } }
  analysis { intervalSeconds minCalls failureLimit count maxErrorRate maxP99Ratio minAgreement maxOutputPsi }
  analysisRuns(last: 30) { id status stepIndex windowEnd message gateways
    candidate { calls errorRate p99Ms } stable { calls errorRate p99Ms }
    conditions { metric operator threshold value passed } }`;

export function RolloutPage({ id, me }) {
  const [rollout, setRollout] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [history, setHistory] = useState([]);
  useEffect(() => {
    setRollout(undefined);
    setHistory([]);
    return subscribe(`subscription($id: ID!) { rolloutChanged(id: $id) { ${ROLLOUT} } }`, { id }, (d) => {
      setError(undefined);
      setRollout(d.rolloutChanged);
      setHistory((h) => [...h, { t: Date.now() / 1000, weight: d.rolloutChanged.weight }]);
    }, setError);
  }, [id]);
  if (rollout === undefined) return html`<${Failure} error=${error} /><p class="muted">Connecting…</p>`;
  const r = rollout;
  return html`<h1>Rollout <span class="mono">${r.id.slice(0, 8)}</span> <${Badge} kind=${PHASE_KIND[r.phase]}><span data-testid="phase">${r.phase}</span><//></h1>
    <${Failure} error=${error} />
    <p><a href=${link(`/models/${r.model}`)}>${r.model}</a>: ${r.strategy} from v${r.stable} to v${r.candidate}, started ${when(r.createdAt)} by ${r.createdBy}. ${r.message}${r.abortReason ? html` <b>Aborted:</b> ${r.abortReason}` : null}</p>
    ${LIVE.includes(r.phase) && may(me, 'rollout:write') ? html`<${Actions} r=${r} onError=${setError} />` : null}
    <div class="grid2">
      <section class="card"><h3>Weights now</h3>
        <div class="weights" data-testid="weights">${r.weights.map((w) => html`<div class="weight-row"><span>v${w.version}</span><div class="bar"><div style=${`width:${w.weight}%`} class=${w.version === r.candidate ? 'candidate' : 'stable'}></div></div><b>${w.weight}%</b></div>`)}</div>
        ${history.length > 1 ? html`<${Chart} name="weight" time=${true} height=${150} x=${history.map((p) => p.t)} series=${[{ label: 'candidate %', values: history.map((p) => p.weight) }]} />` : null}
      </section>
      <section class="card"><h3>Steps</h3>${r.steps.length ? html`<ol class="steps" data-testid="steps">${r.steps.map((s, i) => html`<li class=${i < r.currentStep ? 'done' : i === r.currentStep ? 'current' : ''}>${stepText(s)}${i === r.currentStep && LIVE.includes(r.phase) ? html` <${Badge} kind="info">now, since ${when(r.stepStartedAt).slice(11)}<//>` : null}</li>`)}</ol>` : html`<p class="muted">${r.strategy} holds its split</p>`}
        ${r.nextAnalysisAt ? html`<p class="muted">next analysis ${when(r.nextAnalysisAt)}</p>` : null}</section>
    </div>
    <h2>Analysis runs</h2>
    ${r.analysis ? html`<p class="muted">every ${r.analysis.intervalSeconds} s, at least ${r.analysis.minCalls} calls, ${r.analysis.failureLimit} failures allowed</p>` : null}
    ${r.analysisRuns.length === 0 ? html`<p class="muted">None yet.</p>` : html`<table class="list" data-testid="analysis-runs"><thead><tr><th>at</th><th>step</th><th>status</th><th>calls (cand/stable)</th><th>conditions: measured vs threshold</th></tr></thead>
      <tbody>${[...r.analysisRuns].reverse().map((a) => html`<tr>
        <td>${when(a.windowEnd).slice(11)}</td><td>${a.stepIndex + 1}</td>
        <td><${Badge} kind=${a.status === 'SUCCESSFUL' ? 'ok' : a.status === 'FAILED' ? 'bad' : 'warn'}>${a.status}<//></td>
        <td>${a.candidate.calls} / ${a.stable.calls}</td>
        <td>${a.conditions.length ? a.conditions.map((c) => html`<span class=${`cond ${c.passed === false ? 'bad' : c.passed ? 'ok' : ''}`}>${c.metric} ${num(c.value)} ${c.operator} ${num(c.threshold)}</span>`) : html`<span class="muted">${a.message}</span>`}</td></tr>`)}</tbody></table>`}`;
}

function stepText(s) {
  if (s.setWeight !== null && s.setWeight !== undefined) return `set weight ${s.setWeight}%`;
  if (s.pause) return s.pause.seconds === null ? 'pause until resumed' : `pause ${s.pause.seconds} s`;
  return `analysis: ${s.analysis.count} successful run${s.analysis.count === 1 ? '' : 's'}`;
}

function Actions({ r, onError }) {
  const [busy, setBusy] = useState(false);
  const act = (mutation, extra = '') => async () => {
    if (mutation === 'abortRollout' && !confirm(`Abort the rollout of ${r.model} v${r.candidate}? Traffic goes back to v${r.stable}.`)) return;
    setBusy(true);
    try {
      await gql(`mutation($id: ID!) { ${mutation}(id: $id${extra}) { id } }`, { id: r.id });
    } catch (err) {
      onError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="actions">
    <button class="primary" disabled=${busy} onClick=${act('promoteRollout')}>Promote</button>
    ${r.phase === 'PAUSED' ? html`<button disabled=${busy} onClick=${act('resumeRollout')}>Resume</button>` : html`<button disabled=${busy} onClick=${act('pauseRollout')}>Pause</button>`}
    <button class="danger" disabled=${busy} onClick=${act('abortRollout', ', reason: "aborted from the console"')}>Abort</button>
  </div>`;
}
