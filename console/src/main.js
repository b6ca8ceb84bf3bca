// The console: sign in with a token, then hash-routed pages (#/models/weather, #/rollouts/<id>, ...),
// so every page has a link that survives a reload and the server only ever serves index.html.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { gql, may, session } from './api.js';
import { AuditPage } from './audit.js';
import { DriftPage } from './drift.js';
import { FleetPage } from './fleet.js';
import { ModelPage, ModelsPage } from './models.js';
import { RolloutPage, RolloutsPage } from './rollouts.js';
import { JobPage, TrainingPage } from './training.js';
import { Failure, html, link } from './ui.js';
import './style.css';

function useRoute() {
  const read = () => {
    const [path, query = ''] = (location.hash.slice(1) || '/models').split('?');
    return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query) };
  };
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function SignIn({ onSignedIn, error }) {
  const [token, setToken] = useState('');
  const [failure, setFailure] = useState(error);
  const submit = async (e) => {
    e.preventDefault();
    session.signIn(token.trim());
    try {
      const { me } = await gql('{ me { name role tokenId } }');
      onSignedIn(me);
    } catch (err) {
      session.signOut();
      setFailure(err);
    }
  };
  return html`<main class="signin"><form onSubmit=${submit} class="card">
    <h1><span class="logo">≋</span> Sluice console</h1>
    <p class="muted">Sign in with a Sluice token (the admin token <code>sluice serve</code> printed at its first start, or one from <code>sluice token create</code>). It is kept in this tab only.</p>
    <input type="password" name="token" autocomplete="off" placeholder="sluice_…" value=${token} onInput=${(e) => setToken(e.target.value)} autofocus />
    <button class="primary" type="submit" disabled=${token.trim() === ''}>Sign in</button>
    <${Failure} error=${failure} />
  </form></main>`;
}

const NAV = [
  ['models', 'Models'],
  ['rollouts', 'Rollouts'],
  ['training', 'Training'],
  ['drift', 'Drift'],
  ['fleet', 'Fleet'],
  ['audit', 'Audit', 'audit:read'],
];

function Page({ route, me }) {
  const [section, a, b] = route.parts;
  const model = route.params.get('model') ?? undefined;
  switch (section) {
    case 'models':
      return a ? html`<${ModelPage} name=${a} />` : html`<${ModelsPage} />`;
    case 'rollouts':
      return a ? html`<${RolloutPage} id=${a} me=${me} />` : html`<${RolloutsPage} model=${model} />`;
    case 'training':
      return a ? html`<${JobPage} id=${a} me=${me} />` : html`<${TrainingPage} model=${model} />`;
    case 'drift':
      return a ? html`<${DriftPage} model=${a} version=${b} />` : html`<${DriftIndex} />`;
    case 'fleet':
      return html`<${FleetPage} />`;
    case 'audit':
      return may(me, 'audit:read') ? html`<${AuditPage} />` : html`<p>The audit log is for admins.</p>`;
    default:
      return html`<p>No page ${section}. <a href=${link('/models')}>Models</a></p>`;
  }
}

function DriftIndex() {
  const [models, setModels] = useState(undefined);
  useEffect(() => void gql('{ models(first: 100) { edges { node { name } } } }').then((d) => setModels(d.models.edges.map((e) => e.node.name))), []);
  return html`<h1>Drift</h1><p>Pick a model:</p><ul>${(models ?? []).map((m) => html`<li><a href=${link(`/drift/${m}`)}>${m}</a></li>`)}</ul>`;
}

function App() {
  const route = useRoute();
  const [me, setMe] = useState(undefined);
  const [error, setError] = useState(undefined);
  useEffect(() => {
    if (!session.token()) return setMe(null);
    gql('{ me { name role tokenId } }').then((d) => setMe(d.me), (err) => {
      session.signOut();
      setError(err);
      setMe(null);
    });
  }, []);
  if (me === undefined) return html`<p class="muted">Loading…</p>`;
  if (me === null) return html`<${SignIn} onSignedIn=${setMe} error=${error} />`;
  const signOut = () => {
    session.signOut();
    setMe(null);
  };
  return html`<header>
      <a class="brand" href=${link('/models')}><span class="logo">≋</span> Sluice</a>
      <nav>${NAV.filter(([, , need]) => !need || may(me, need)).map(([p, label]) => html`<a class=${route.parts[0] === p ? 'active' : ''} href=${link(`/${p}`)}>${label}</a>`)}</nav>
      <span class="who" data-testid="who">${me.name} · ${me.role.toLowerCase()}</span>
      <button class="link" onClick=${signOut}>Sign out</button>
    </header>
    <main><${Page} route=${route} me=${me} /></main>`;
}

render(html`<${App} />`, document.getElementById('app'));
