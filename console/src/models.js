// Models → versions (metrics, lineage, gate report, signature, where loaded) → aliases.
import { useState } from 'preact/hooks';
import { gql } from './api.js';
import { Badge, html, link, Loading, num, useQuery, when } from './ui.js';

export function ModelsPage() {
  const q = useQuery(() => gql(`{ models(first: 100) { edges { node { name description owner updatedAt aliases { name version { number } }
    versions(first: 1) { edges { node { number } } } } } } }`), []);
  return html`<h1>Models</h1>
    <${Loading} q=${q}>${(d) => html`<table class="list" data-testid="models">
      <thead><tr><th>model</th><th>description</th><th>owner</th><th>newest</th><th>aliases</th><th>updated</th></tr></thead>
      <tbody>${d.models.edges.map(({ node: m }) => html`<tr>
        <td><a href=${link(`/models/${m.name}`)}>${m.name}</a></td>
        <td>${m.description}</td><td>${m.owner}</td>
        <td>v${m.versions.edges[0]?.node.number ?? '—'}</td>
        <td>${m.aliases.map((a) => html`<${Badge} kind="alias">${a.name} → v${a.version.number}<//> `)}</td>
        <td>${when(m.updatedAt)}</td></tr>`)}
      </tbody></table>`}<//>`;
}

const VERSION = `number status description createdAt createdBy aliases
  metrics { name value }
  lineage { datasetDigest parameters trainingJob source trainerDigest parentVersion }
  signature { inputs { name datatype shape } outputs { name datatype shape } }
  artifact { sha256 size keyId }
  gateReport { passed policyRevision productionVersion createdAt checks { kind name passed measured limit detail } }
  fleet { gateways loaded failed states { gateway state reason reportedAt } }`;

export function ModelPage({ name }) {
  const q = useQuery(() => gql(`query($name: String!) { model(name: $name) { name description owner
    aliases { name updatedAt updatedBy version { number } }
    versions(first: 8) { edges { node { ${VERSION} } } } } }`, { name }), [name], 10_000);
  const [open, setOpen] = useState(null);
  return html`<${Loading} q=${q}>${({ model }) => {
    if (!model) return html`<p>No model ${name}.</p>`;
    const versions = model.versions.edges.map((e) => e.node);
    const shown = versions.find((v) => v.number === open) ?? versions[0];
    return html`<h1>${model.name} <small class="muted">${model.description}</small></h1>
      <p class="nav-inline"><a href=${link(`/drift/${model.name}`)}>drift</a> · <a href=${link(`/rollouts?model=${model.name}`)}>rollouts</a> · <a href=${link(`/training?model=${model.name}`)}>training jobs</a></p>
      <h2>Aliases</h2>
      <table class="list" data-testid="aliases"><thead><tr><th>alias</th><th>version</th><th>moved</th><th>by</th></tr></thead>
        <tbody>${model.aliases.map((a) => html`<tr><td><${Badge} kind="alias">${a.name}<//></td><td>v${a.version.number}</td><td>${when(a.updatedAt)}</td><td>${a.updatedBy}</td></tr>`)}</tbody></table>
      <h2>Versions</h2>
      <div class="split">
        <table class="list versions" data-testid="versions"><thead><tr><th>version</th><th>status</th><th>gate</th><th>loaded</th><th>created</th></tr></thead>
          <tbody>${versions.map((v) => html`<tr class=${v === shown ? 'selected' : ''} onClick=${() => setOpen(v.number)}>
            <td><a href="javascript:void 0">v${v.number}</a> ${v.aliases.map((a) => html`<${Badge} kind="alias">${a}<//>`)}</td>
            <td>${v.status}</td>
            <td>${v.gateReport ? html`<${Badge} kind=${v.gateReport.passed ? 'ok' : 'bad'}>${v.gateReport.passed ? 'passed' : 'failed'}<//>` : '—'}</td>
            <td>${v.fleet.loaded}/${v.fleet.gateways}</td><td>${when(v.createdAt)}</td></tr>`)}</tbody></table>
        ${shown ? html`<${VersionDetail} v=${shown} />` : null}
      </div>`;
  }}<//>`;
}

function VersionDetail({ v }) {
  return html`<section class="card detail" data-testid="version-detail">
    <h3>v${v.number} <small class="muted">${v.description}</small></h3>
    <div class="grid2">
      <div><h4>Metrics</h4>${v.metrics.length ? html`<dl>${v.metrics.map((m) => html`<dt>${m.name}</dt><dd>${num(m.value, 4)}</dd>`)}</dl>` : html`<p class="muted">none</p>`}</div>
      <div><h4>Lineage</h4><dl>
        <dt>dataset</dt><dd class="mono">${v.lineage.datasetDigest?.slice(0, 16) ?? '—'}</dd>
        <dt>training job</dt><dd>${v.lineage.trainingJob ? html`<a href=${link(`/training/${v.lineage.trainingJob}`)}>${v.lineage.trainingJob.slice(0, 8)}</a>` : '—'}</dd>
        <dt>parent</dt><dd>${v.lineage.parentVersion ? `v${v.lineage.parentVersion}` : '—'}</dd>
        <dt>source</dt><dd>${v.lineage.source ?? '—'}</dd>
        <dt>trainer</dt><dd class="mono">${v.lineage.trainerDigest?.slice(0, 24) ?? '—'}</dd>
        <dt>parameters</dt><dd class="mono">${JSON.stringify(v.lineage.parameters)}</dd></dl></div>
    </div>
    <h4>Signature</h4>
    <table class="list compact"><tbody>${[...v.signature.inputs.map((s) => ['input', s]), ...v.signature.outputs.map((s) => ['output', s])].map(([role, s]) => html`<tr><td>${role}</td><td class="mono">${s.name}</td><td>${s.datatype}</td><td class="mono">[${s.shape.join(', ')}]</td></tr>`)}</tbody></table>
    <p class="muted mono">sha256 ${v.artifact.sha256.slice(0, 24)}… · ${(v.artifact.size / 1024).toFixed(1)} KB · key ${v.artifact.keyId}</p>
    <h4>Gate report</h4>
    ${v.gateReport ? html`<p><${Badge} kind=${v.gateReport.passed ? 'ok' : 'bad'}>${v.gateReport.passed ? 'passed' : 'failed'}<//> policy r${v.gateReport.policyRevision ?? '—'} against v${v.gateReport.productionVersion ?? '—'}, ${when(v.gateReport.createdAt)}</p>
      <table class="list compact"><thead><tr><th>check</th><th>measured</th><th>limit</th><th></th></tr></thead><tbody>${v.gateReport.checks.map((c) => html`<tr><td>${c.kind} ${c.name}</td><td>${num(c.measured, 4)}</td><td>${num(c.limit, 4)}</td><td><${Badge} kind=${c.passed ? 'ok' : 'bad'}>${c.passed ? 'pass' : 'fail'}<//></td></tr>`)}</tbody></table>`
      : html`<p class="muted">no gate report</p>`}
    <h4>Where it is loaded</h4>
    ${v.fleet.states.length ? html`<table class="list compact"><tbody>${v.fleet.states.map((s) => html`<tr><td>${s.gateway}</td><td><${Badge} kind=${s.state === 'ready' ? 'ok' : s.state === 'failed' ? 'bad' : ''}>${s.state}<//></td><td>${s.reason ?? ''}</td><td>${when(s.reportedAt)}</td></tr>`)}</tbody></table>` : html`<p class="muted">no gateway connected</p>`}
  </section>`;
}
