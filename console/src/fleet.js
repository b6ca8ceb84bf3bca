// The fleet: every gateway with its region, labels, status, health and loaded versions; calls/s
// and p99 per model version from fleetFigures over the last minute. Fields another change may add
// to Gateway (issue: fleet) are asked for separately, so the page still works without them.
import { gql } from './api.js';
import { Badge, html, link, Loading, num, useQuery, when } from './ui.js';

const WINDOW_S = 60;
const STATUS_KIND = { CONNECTED: 'ok', STALE: 'warn', NEVER: '' };
const HEALTH_KIND = { HEALTHY: 'ok', DEGRADED: 'warn', UNHEALTHY: 'bad', UNKNOWN: '' };

async function loadFleet() {
  const d = await gql(`{ gateways(first: 100) { edges { node { name region labels { key value } status health healthMessage lastHeartbeatAt
    loadedVersions { model version state reason executionProvider } } } } }`);
  const gateways = d.gateways.edges.map((e) => e.node);
  const models = [...new Set(gateways.flatMap((g) => g.loadedVersions.map((v) => v.model)))].sort();
  const from = new Date(Date.now() - WINDOW_S * 1000).toISOString();
  let figures = {};
  if (models.length) {
    const f = await gql(`query($from: DateTime!) { ${models.map((m, i) => `m${i}: fleetFigures(model: ${JSON.stringify(m)}, from: $from) { version gateways calls errorRate p99Ms }`).join('\n')} }`, { from });
    figures = Object.fromEntries(models.map((m, i) => [m, f[`m${i}`]]));
  }
  return { gateways, models, figures };
}

export function FleetPage() {
  const q = useQuery(loadFleet, [], 5000);
  return html`<h1>Fleet</h1>
    <${Loading} q=${q}>${({ gateways, models, figures }) => html`
      <table class="list" data-testid="gateways"><thead><tr><th>gateway</th><th>region</th><th>labels</th><th>status</th><th>health</th><th>loaded versions</th><th>last heartbeat</th></tr></thead>
        <tbody>${gateways.map((g) => html`<tr>
          <td><b>${g.name}</b></td><td>${g.region || '—'}</td>
          <td>${g.labels.map((l) => html`<${Badge}>${l.key}=${l.value}<//> `)}</td>
          <td><${Badge} kind=${STATUS_KIND[g.status]}>${g.status}<//></td>
          <td><${Badge} kind=${HEALTH_KIND[g.health]}>${g.health}<//> <small class="muted">${g.healthMessage}</small></td>
          <td>${g.loadedVersions.map((v) => html`<span class=${`loaded ${v.state}`} title=${v.reason ?? ''}>${v.model} v${v.version}${v.executionProvider && v.executionProvider !== 'cpu' ? ` (${v.executionProvider})` : ''}</span> `)}</td>
          <td>${when(g.lastHeartbeatAt)}</td></tr>`)}</tbody></table>
      <h2>Traffic <small class="muted">last ${WINDOW_S} s, all gateways</small></h2>
      ${models.length === 0 ? html`<p class="muted">No versions loaded.</p>` : html`<table class="list" data-testid="traffic"><thead><tr><th>model</th><th>version</th><th>gateways</th><th>calls/s</th><th>error rate</th><th>p99 (ms, bucket bound)</th></tr></thead>
        <tbody>${models.flatMap((m) => figures[m].map((f) => html`<tr><td><a href=${link(`/models/${m}`)}>${m}</a></td><td>v${f.version}</td><td>${f.gateways}</td><td>${num(f.calls / WINDOW_S)}</td><td>${num(f.errorRate)}</td><td>${num(f.p99Ms)}</td></tr>`))}</tbody></table>`}`}<//>`;
}
