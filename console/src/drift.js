// Drift per model version: each feature's reference histogram (the version's profile.json), PSI
// per feature over time (fleetFigures over consecutive ranges: the rows-weighted mean of the
// gateways' reports, polled every few seconds; there is no drift subscription), and alert state.
import { useEffect, useRef, useState } from 'preact/hooks';
import { artifactJson, gql } from './api.js';
import { Chart } from './chart.js';
import { Badge, Failure, html, link, Loading, num, useQuery, when } from './ui.js';

const BUCKET_S = 10;
const HISTORY = 18;
const PER_QUERY = 3;
const POLL_MS = 3000;

export function DriftPage({ model, version }) {
  const q = useQuery(() => gql(`query($m: String!) { model(name: $m) { name versions(first: 20) { edges { node { number aliases profile { downloadUrl } } } } }
    alerts(model: $m, first: 20) { edges { node { id rule version metric feature severity state value threshold activeSince firedAt resolvedAt } } } }`, { m: model }), [model], 10_000);
  return html`<${Loading} q=${q}>${(d) => {
    if (!d.model) return html`<p>No model ${model}.</p>`;
    const versions = d.model.versions.edges.map((e) => e.node);
    const chosen = versions.find((v) => String(v.number) === String(version)) ?? versions.find((v) => v.aliases.includes('production')) ?? versions[0];
    if (!chosen) return html`<p class="muted">${model} has no versions.</p>`;
    const alerts = d.alerts.edges.map((e) => e.node).filter((a) => a.version === chosen.number);
    return html`<h1>Drift of <a href=${link(`/models/${model}`)}>${model}</a></h1>
      <p class="tabs">${versions.map((v) => html`<a class=${v === chosen ? 'active' : ''} href=${link(`/drift/${model}/${v.number}`)}>v${v.number}${v.aliases.length ? ` (${v.aliases.join(', ')})` : ''}</a>`)}</p>
      <h2>Alerts</h2>
      ${alerts.length === 0 ? html`<p class="muted" data-testid="alerts">No alerts for v${chosen.number}.</p>` : html`<table class="list" data-testid="alerts"><thead><tr><th>rule</th><th>metric</th><th>state</th><th>value / threshold</th><th>since</th></tr></thead>
        <tbody>${alerts.map((a) => html`<tr><td>${a.rule}</td><td>${a.metric}${a.feature ? ` (${a.feature})` : ''}</td><td><${Badge} kind=${a.state === 'FIRING' ? 'bad' : a.state === 'PENDING' ? 'warn' : 'ok'}>${a.state}<//></td><td>${num(a.value)} / ${num(a.threshold)}</td><td>${when(a.activeSince)}</td></tr>`)}</tbody></table>`}
      <${PsiOverTime} model=${model} version=${chosen.number} />
      ${chosen.profile ? html`<${Reference} url=${chosen.profile.downloadUrl} />` : html`<p class="muted">v${chosen.number} has no drift profile: gateways serve it with drift off.</p>`}`;
  }}<//>`;
}

function PsiOverTime({ model, version }) {
  const [points, setPoints] = useState([]);
  const [error, setError] = useState(undefined);
  const until = useRef(0);
  useEffect(() => {
    setPoints([]);
    let stopped = false;
    const now = Math.floor(Date.now() / 1000);
    until.current = now - HISTORY * BUCKET_S;
    const fetchUpTo = async (end) => {
      const ranges = [];
      for (let t = until.current; t + BUCKET_S <= end; t += BUCKET_S) ranges.push([t, t + BUCKET_S]);
      // A few ranges per request: the API's query cost limit counts each fleetFigures.
      for (let i = 0; i < ranges.length && !stopped; i += PER_QUERY) {
        const chunk = ranges.slice(i, i + PER_QUERY);
        const fields = chunk.map(([a, b], j) => `b${j}: fleetFigures(model: $m, from: "${new Date(a * 1000).toISOString()}", to: "${new Date(b * 1000).toISOString()}") { version drift { feature psi rows } }`);
        const d = await gql(`query($m: String!) { ${fields.join('\n')} }`, { m: model });
        if (stopped) return;
        until.current = chunk[chunk.length - 1][1];
        const fresh = chunk.map(([, b], j) => ({ t: b, drift: d[`b${j}`].find((f) => f.version === version)?.drift ?? [] }));
        setPoints((old) => [...old, ...fresh].slice(-HISTORY * 3));
      }
    };
    const tick = () => fetchUpTo(Math.floor(Date.now() / 1000)).then(() => setError(undefined), setError);
    void tick();
    const timer = setInterval(tick, POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [model, version]);
  const features = [...new Set(points.flatMap((p) => p.drift.map((f) => f.feature)))].sort();
  const latest = [...points].reverse().find((p) => p.drift.length > 0);
  return html`<section class="card"><h2>PSI over time <small class="muted">per ${BUCKET_S} s, all gateways</small></h2>
    <${Failure} error=${error} />
    ${features.length === 0 ? html`<p class="muted" data-testid="psi-empty">No drift figures reported for v${version} yet (gateways report them with their traffic windows).</p>`
      : html`<${Chart} name="psi" time=${true} height=${240} yLabel="PSI" x=${points.map((p) => p.t)}
          series=${features.map((f) => ({ label: f, values: points.map((p) => p.drift.find((d) => d.feature === f)?.psi ?? null) }))} />
        <p class="muted" data-testid="psi-latest" data-max-psi=${latest ? Math.max(...latest.drift.map((f) => f.psi)) : ''}>latest: ${latest ? latest.drift.map((f) => `${f.feature} ${num(f.psi)} (${f.rows} rows)`).join(' · ') : '—'}</p>`}
  </section>`;
}

function Reference({ url }) {
  const q = useQuery(() => artifactJson(url), [url]);
  return html`<h2>Reference histograms <small class="muted">inputs and class labels, from the version's profile</small></h2>
    <${Loading} q=${q}>${(p) => html`<div class="grid3">${p.tensors.flatMap((t) => t.features.map((f) => ({ t, f }))).filter(({ t, f }) => t.role === 'input' || f.kind === 'categorical').map(({ t, f }) => html`<section class="card small">
      <h4>${f.name} <small class="muted">${t.role}</small></h4>${histogram(f)}</section>`)}</div>`}<//>`;
}

function histogram(f) {
  if (f.kind === 'categorical') {
    return html`<${Chart} bars=${true} height=${140} x=${f.proportions.map((_, i) => i)} series=${[{ label: 'reference', values: f.proportions }]} />
      <p class="muted">categories ${f.categories.join(', ')}, other</p>`;
  }
  // PSI bins sit between reference quantiles, so every bin holds about the same share: the shape is
  // in the density (share / width). The open outer bins are closed at the reference min and max.
  const edges = [f.min, ...f.edges, f.max];
  const mids = f.proportions.map((_, i) => (edges[i] + edges[i + 1]) / 2);
  const density = f.proportions.map((p, i) => (edges[i + 1] > edges[i] ? p / (edges[i + 1] - edges[i]) : null));
  return html`<${Chart} bars=${true} height=${140} x=${mids} series=${[{ label: 'density', values: density }]} />
    <p class="muted">mean ${num(f.mean)} · std ${num(f.std)} · ${f.count} rows</p>`;
}
