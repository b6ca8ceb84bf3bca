import t from 'tap';
import { startTestControlPlane } from '../harness.js';

/** Every URL the page would load: src/href attributes and quoted paths (the editor workers). */
function loadedUrls(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="([^"]*)"|'(\/graphiql\/[^']*)'/g)].map((m) => m[1] ?? m[2]!);
}

t.test('GraphiQL is served from the control plane itself, with no external URL in the page', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite', { graphiql: true });
  const page = await fetch(`${cp.url}/graphql`, { headers: { accept: 'text/html' } });
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /^text\/html/);
  const html = await page.text();
  t.notMatch(html, /https?:\/\//, 'the page names no absolute URL at all');
  t.notMatch(html, /__TITLE__|__OPTS__/, 'no unfilled template');
  t.match(html, 'Sluice control plane');
  const urls = loadedUrls(html);
  t.same(new Set(urls), new Set(['/graphiql/favicon.ico', '/graphiql/graphiql.css', '/graphiql/graphiql.js', '/graphiql/editor.worker.js', '/graphiql/json.worker.js', '/graphiql/graphql.worker.js']));
  for (const url of urls) {
    const res = await fetch(`${cp.url}${url}`);
    t.equal(res.status, 200, url);
    const body = Buffer.from(await res.arrayBuffer());
    t.ok(body.length > 1000, `${url} has content (${body.length} bytes)`);
    t.match(res.headers.get('content-type'), url.endsWith('.css') ? /^text\/css/ : url.endsWith('.ico') ? /^image\// : /^text\/javascript/, url);
  }
  const js = await (await fetch(`${cp.url}/graphiql/graphiql.js`)).text();
  t.match(js, 'renderYogaGraphiQL', 'the script defines what the page calls');
  const options = JSON.parse(/renderYogaGraphiQL\(document\.getElementById\('root'\), (.*)\);<\/script>/.exec(html)![1]!) as { headers: string };
  t.same(JSON.parse(options.headers), { Authorization: 'Bearer <token>' }, 'the Headers pane starts with the Authorization header to fill in');
});

t.test('an unknown GraphiQL asset is a coded 404, and the assets are off with GraphiQL', async (t) => {
  const on = await startTestControlPlane(t, 'sqlite', { graphiql: true });
  const missing = await fetch(`${on.url}/graphiql/../control-plane.db`);
  t.equal(missing.status, 404);
  t.equal(((await missing.json()) as { code: string }).code, 'SLUICE_E_HTTP_NOT_FOUND');
  const nope = await fetch(`${on.url}/graphiql/nope.js`);
  t.equal(((await nope.json()) as { code: string }).code, 'SLUICE_E_HTTP_NOT_FOUND');

  const off = await startTestControlPlane(t, 'sqlite', { graphiql: false });
  const asset = await fetch(`${off.url}/graphiql/graphiql.js`);
  t.equal(asset.status, 404);
  const page = await fetch(`${off.url}/graphql`, { headers: { accept: 'text/html' } });
  t.not(page.headers.get('content-type')?.startsWith('text/html'), true, 'no GraphiQL page either');
});
