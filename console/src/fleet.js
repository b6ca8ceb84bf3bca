// The fleet: every gateway with its region, labels, status, health, loaded versions (and the
// execution provider each runs on) and what it answered over the last minute (Gateway.recent); then
// per model which gateways serve which version, with the version's fleet-wide calls/s, p99 and
// error rate (modelFleet, services/fleet.ts). Both polled.
import { gql } from './api.js';
import { Badge, html, link, Loading, num, useQuery, when } from './ui.js';

const WINDOW_S = 60;
/** Models per modelFleet request: the API's alias limit is 15. */
const PER_QUERY = 10;
const POLL_MS = 5000;
const STATUS_KIND = { CONNECTED: 'ok', STALE: 'warn', NEVER: '' };
const HEALTH_KIND = { HEALTHY: 'ok', DEGRADED: 'warn', UNHEALTHY: 'bad', UNKNOWN: '' };
const STATE_KIND = { ready: 'ok', loading: 'warn', failed: 'bad' };

async function loadFleet() {
  const d = await gql(`query($s: Int!) { gateways(first: 100) { edges { node { name region labels { key value } status health healthMessage lastHeartbeatAt
    loadedVersions { model version state reason executionProvider } recent(seconds: $s) { calls errors callsPerSecond errorRate p99Ms } } } } }`, { s: WINDOW_S });
  const gateways = d.gateways.edges.map((e) => e.node);
  const models = [...new Set(gateways.flatMap((g) => g.loadedVersions.map((v) => v.model)))].sort();
  const fleets = [];
  for (let i = 0; i < models.length; i += PER_QUERY) {
    const chunk = models.slice(i, i + PER_QUERY);
    const f = await gql(`query($s: Int!) { ${chunk.map((m, j) => `m${j}: modelFleet(model: ${JSON.stringify(m)}, seconds: $s) { model versions { version serving callsPerSecond
      gateways { gateway region status state executionProvider } figures { errorRate p99Ms } } }`).join('\n')} }`, { s: WINDOW_S });
    fleets.push(...chunk.map((_, j) => f[`m${j}`]));
  }
  return { gateways, fleets };
}

function Loaded({ v }) {
  return html`<span class=${`loaded ${v.state}`} title=${v.reason ?? v.state}>${v.model} v${v.version}${v.executionProvider ? html` <small>${v.executionProvider}</small>` : null}</span> `;
}

function GatewayTable({ gateways }) {
  return html`<table class="list" data-testid="gateways"><thead><tr><th>gateway</th><th>region</th><th>labels</th><th>status</th><th>health</th><th>loaded versions</th>
      <th class="num">calls/s</th><th class="num">p99 (ms)</th><th class="num">errors</th><th>last heartbeat</th></tr></thead>
    <tbody>${gateways.map((g) => html`<tr data-gateway=${g.name}>
      <td><b>${g.name}</b></td><td>${g.region || '—'}</td>
      <td>${g.labels.map((l) => html`<${Badge}>${l.key}=${l.value}<//> `)}</td>
      <td><${Badge} kind=${STATUS_KIND[g.status]}>${g.status}<//></td>
      <td><${Badge} kind=${HEALTH_KIND[g.health]}>${g.health}<//> <small class="muted">${g.healthMessage}</small></td>
      <td>${g.loadedVersions.map((v) => html`<${Loaded} v=${v} />`)}</td>
      <td class="num" data-testid="calls-per-second">${num(g.recent.callsPerSecond)}</td><td class="num" data-testid="p99">${num(g.recent.p99Ms)}</td>
      <td class="num">${g.recent.errors}${g.recent.errorRate ? html` <small class="muted">(${num(g.recent.errorRate * 100, 2)}%)</small>` : null}</td>
      <td>${when(g.lastHeartbeatAt)}</td></tr>`)}</tbody></table>`;
}

function ModelFleet({ fleet }) {
  return html`<section class="card" data-testid=${`model-fleet-${fleet.model}`}>
    <h3><a href=${link(`/models/${fleet.model}`)}>${fleet.model}</a></h3>
    <table class="list compact"><thead><tr><th>version</th><th class="num">serving</th><th class="num">calls/s</th><th class="num">p99 (ms)</th><th class="num">error rate</th><th>gateways</th></tr></thead>
      <tbody>${fleet.versions.map((v) => html`<tr data-version=${v.version}>
        <td>v${v.version}</td><td class="num">${v.serving} of ${v.gateways.length}</td><td class="num">${num(v.callsPerSecond)}</td>
        <td class="num">${num(v.figures?.p99Ms)}</td><td class="num">${num(v.figures?.errorRate)}</td>
        <td>${v.gateways.map((g) => html`<span class=${`loaded ${g.state}`} title=${`${g.status.toLowerCase()}, ${g.state}`}>${g.gateway}${g.region ? ` · ${g.region}` : ''}${g.executionProvider ? ` · ${g.executionProvider}` : ''}</span>
          ${g.status !== 'CONNECTED' ? html`<${Badge} kind=${STATUS_KIND[g.status]}>${g.status}<//>` : null} `)}</td></tr>`)}</tbody></table></section>`;
}

export function FleetPage() {
  const q = useQuery(loadFleet, [], POLL_MS);
  return html`<h1>Fleet <small class="muted">last ${WINDOW_S} s</small></h1>
    <${Loading} q=${q}>${({ gateways, fleets }) => html`
      ${gateways.length === 0 ? html`<p class="muted">No gateway has registered.</p>` : html`<${GatewayTable} gateways=${gateways} />`}
      <h2>Per model <small class="muted">which gateways serve which version; calls/s, p99 and error rate over all of them</small></h2>
      ${fleets.length === 0 ? html`<p class="muted">No versions loaded.</p>` : fleets.map((f) => html`<${ModelFleet} fleet=${f} />`)}`}<//>`;
}
