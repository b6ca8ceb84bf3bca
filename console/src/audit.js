// The audit log (admins only, as audit:read says): the chain's verification status and the events,
// filtered by actor, action, resource and outcome, paged with the connection's cursor.
import { useState } from 'preact/hooks';
import { gql } from './api.js';
import { Badge, html, Loading, useQuery, when } from './ui.js';

const PAGE = 50;

export function AuditPage() {
  const [filter, setFilter] = useState({});
  const [draft, setDraft] = useState({ actorId: '', action: '', resource: '', outcome: '' });
  const [after, setAfter] = useState([]);
  const verification = useQuery(() => gql(`{ verifyAudit { ok checkedEvents checkpoints firstBad { seq reason } firstBadCheckpoint { line seq reason } } }`), [], 30_000);
  const events = useQuery(() => gql(`query($f: AuditEventFilter, $after: String) { auditEvents(first: ${PAGE}, after: $after, filter: $f) {
      edges { node { seq at actorName role action resource outcome reason requestId } } pageInfo { hasNextPage endCursor } } }`, { f: filter, after: after[after.length - 1] ?? null }), [filter, after]);
  const apply = (e) => {
    e.preventDefault();
    setAfter([]);
    setFilter(Object.fromEntries(Object.entries(draft).filter(([, v]) => v !== '')));
  };
  const field = (name, placeholder) => html`<input name=${name} placeholder=${placeholder} value=${draft[name]} onInput=${(e) => setDraft({ ...draft, [name]: e.target.value })} />`;
  return html`<h1>Audit log</h1>
    <${Loading} q=${verification}>${({ verifyAudit: v }) => html`<p class="verification" data-testid="verification">
      <${Badge} kind=${v.ok ? 'ok' : 'bad'}>${v.ok ? 'chain verified' : 'chain broken'}<//>
      ${v.checkedEvents} events, ${v.checkpoints ?? 0} signed checkpoints checked
      ${v.firstBad ? html` · first bad event #${v.firstBad.seq} (${v.firstBad.reason})` : null}
      ${v.firstBadCheckpoint ? html` · checkpoint line ${v.firstBadCheckpoint.line}: ${v.firstBadCheckpoint.reason}` : null}</p>`}<//>
    <form class="filters" onSubmit=${apply}>
      ${field('actorId', 'actor id')} ${field('action', 'action, e.g. alias.set')} ${field('resource', 'resource, e.g. model/weather')}
      <select name="outcome" value=${draft.outcome} onChange=${(e) => setDraft({ ...draft, outcome: e.target.value })}>
        <option value="">any outcome</option><option>SUCCESS</option><option>DENIED</option><option>FAILED</option></select>
      <button type="submit">Filter</button>
    </form>
    <${Loading} q=${events}>${({ auditEvents: a }) => html`<table class="list" data-testid="audit">
      <thead><tr><th>#</th><th>at</th><th>actor</th><th>action</th><th>resource</th><th>outcome</th><th>request</th></tr></thead>
      <tbody>${a.edges.map(({ node: e }) => html`<tr><td>${e.seq}</td><td>${when(e.at)}</td><td>${e.actorName} <small class="muted">${e.role}</small></td>
        <td class="mono">${e.action}</td><td class="mono">${e.resource}</td>
        <td><${Badge} kind=${e.outcome === 'SUCCESS' ? 'ok' : 'bad'}>${e.outcome}<//> ${e.reason ?? ''}</td><td class="mono muted">${e.requestId.slice(0, 12)}</td></tr>`)}</tbody></table>
      <p class="pager">${after.length ? html`<button onClick=${() => setAfter(after.slice(0, -1))}>Newer</button>` : null}
        ${a.pageInfo.hasNextPage ? html`<button onClick=${() => setAfter([...after, a.pageInfo.endCursor])}>Older</button>` : null}</p>`}<//>`;
}
