// The console's files as the control plane serves them, from a folder the test writes: which paths
// are the console's, caching, methods, and an unbuilt console.
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ConsoleAssets } from '../../../control-plane/server/console.js';

async function serve(t: { teardown(fn: () => unknown): void }, dir: string): Promise<string> {
  const assets = new ConsoleAssets(dir);
  const server = createServer((req, res) => assets.serve(req, res, (req.url ?? '/').split('?')[0]!));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

t.test('the console owns / and /console paths only', async (t) => {
  for (const p of ['/', '/console', '/console/', '/console/app-ABC123.js', '/console/models']) t.ok(ConsoleAssets.owns(p), p);
  for (const p of ['/graphql', '/consoles', '/artifacts/x', '/health']) t.notOk(ConsoleAssets.owns(p), p);
});

t.test('index.html is revalidated, hashed files are immutable, HEAD sends no body', async (t) => {
  const dir = t.testdir({ 'index.html': '<html>console</html>', 'app-ABC123.js': 'console.log(1)', 'app-ABC123.css': 'body{}', 'notes.txt': 'secret' });
  const url = await serve(t, dir);
  const index = await fetch(`${url}/console/rollouts/x`);
  t.equal(index.headers.get('cache-control'), 'no-cache');
  t.equal(await index.text(), '<html>console</html>', 'a deep link gets index.html');
  const js = await fetch(`${url}/console/app-ABC123.js`);
  t.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  t.match(js.headers.get('content-type'), /^text\/javascript/);
  t.equal(await js.text(), 'console.log(1)');
  const head = await fetch(`${url}/console/app-ABC123.css`, { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(await head.text(), '');
  const other = await fetch(`${url}/console/notes.txt`);
  t.equal(await other.text(), '<html>console</html>', 'only built files are served, never another file of the folder');
  const stale = await fetch(`${url}/console/app-OLD000.js`);
  t.equal(stale.status, 404);
  t.equal(((await stale.json()) as { code: string }).code, 'SLUICE_E_HTTP_NOT_FOUND');
  const put = await fetch(`${url}/`, { method: 'PUT', body: 'x' });
  t.equal(put.status, 405);
  t.equal(((await put.json()) as { code: string }).code, 'SLUICE_E_HTTP_METHOD_NOT_ALLOWED');
});

t.test('an unbuilt console answers 404 with its code, and the process keeps serving', async (t) => {
  const url = await serve(t, join(t.testdir({}), 'missing'));
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${url}/`);
    t.equal(res.status, 404);
    t.equal(((await res.json()) as { code: string }).code, 'SLUICE_E_HTTP_NOT_FOUND');
  }
});
