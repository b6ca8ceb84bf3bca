// Drift per model version: each feature's reference histogram (the version's profile.json) with
// the gateways' current window over it (ModelVersion.currentDrift), PSI per feature over time
// (fleetFigures over consecutive ranges: the rows-weighted mean of the gateways' reports), and alert
// state. Both are polled every few seconds: there is no drift subscription.
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
      ${chosen.profile ? html`<${Histograms} url=${chosen.profile.downloadUrl} model=${model} version=${chosen.number} />` : html`<p class="muted">v${chosen.number} has no drift profile: gateways serve it with drift off.</p>`}`;
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

const CURRENT = `query($m: String!, $v: Int!) { modelVersion(model: $m, version: $v) { currentDrift { gateways receivedAt features { feature counts rows } } } }`;
const PSI_EPSILON = 1e-4;

/** Each input feature's and class label's reference histogram with the gateways' current window over it. */
function Histograms({ url, model, version }) {
  const profile = useQuery(() => artifactJson(url), [url]);
  const current = useQuery(() => gql(CURRENT, { m: model, v: version }), [model, version], POLL_MS);
  const now = current.data?.modelVersion?.currentDrift;
  const byName = new Map((now?.features ?? []).map((f) => [f.feature, f]));
  return html`<h2>Histograms <small class="muted">the version's profile against the current window${now?.gateways ? ` (${now.gateways} gateway${now.gateways === 1 ? '' : 's'}, received ${when(now.receivedAt)})` : ''}</small></h2>
    <${Failure} error=${current.error} />
    ${now && now.gateways === 0 ? html`<p class="muted" data-testid="current-empty">No gateway reported a current window of v${version} in the last 5 minutes: the reference alone.</p>` : null}
    <${Loading} q=${profile}>${(p) => html`<div class="grid3">${p.tensors.flatMap((t) => t.features.map((f) => ({ t, f }))).filter(({ t, f }) => t.role === 'input' || f.kind === 'categorical')
      .map(({ t, f }) => html`<${FeatureHistogram} role=${t.role} f=${f} current=${byName.get(f.name)} />`)}</div>`}<//>`;
}

function psi(expected, actual) {
  let sum = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i], PSI_EPSILON);
    const a = Math.max(actual[i], PSI_EPSILON);
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}

function FeatureHistogram({ role, f, current }) {
  const categorical = f.kind === 'categorical';
  // Stepped lines over the bin edges: PSI bins sit between reference quantiles, so every bin holds
  // about the same share and the shape is in the density (share / width). The open outer bins are
  // closed at the reference min and max. A category is a bin of width 1.
  const edges = categorical ? [...f.proportions.map((_, i) => i - 0.5), f.proportions.length - 0.5] : [f.min, ...f.edges, f.max];
  const density = (shares) => {
    const d = shares.map((p, i) => (edges[i + 1] > edges[i] ? p / (edges[i + 1] - edges[i]) : null));
    return [...d, d[d.length - 1]];
  };
  const usable = current !== undefined && current.rows > 0 && current.counts.length === f.proportions.length;
  const shares = usable ? current.counts.map((c) => c / current.rows) : null;
  const series = [{ label: 'reference', values: density(f.proportions), fill: true }];
  if (shares) series.push({ label: 'current', values: density(shares), fill: 'light' });
  return html`<section class="card small" data-feature=${f.name} data-reference=${f.proportions.join(',')} data-current=${usable ? current.counts.join(',') : ''}>
    <h4>${f.name} <small class="muted">${role}</small>${shares ? html` <small class="psi">PSI ${num(psi(f.proportions, shares))}</small>` : null}</h4>
    <${Chart} step=${true} height=${150} x=${edges} series=${series} name=${`hist-${f.name}`} yLabel=${categorical ? 'share' : 'density'} />
    <p class="muted">${categorical ? `categories ${f.categories.join(', ')}, other` : `reference mean ${num(f.mean)} · std ${num(f.std)} · ${f.count} rows`}${usable ? ` · current ${current.rows} rows` : ''}</p></section>`;
}
