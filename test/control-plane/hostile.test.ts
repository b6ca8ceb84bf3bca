import t from 'tap';
import { ADMIN_TOKEN, dialects, exampleOnnx, startTestControlPlane, stopPostgres } from './harness.js';

t.teardown(stopPostgres);

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

for (const dialect of dialects()) {
  t.test(`hostile GraphQL on ${dialect}`, async (t) => {
    t.test('a document too deep, with too many aliases or too many tokens is refused before it runs', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      let deep = 'name';
      for (let i = 0; i < 3; i++) deep = `versions { edges { node { model { ${deep} } } } }`;
      const depth = await cp.gql(`{ models { edges { node { ${deep} } } } }`);
      t.equal(depth.errors?.[0]?.extensions?.code, 'SLUICE_E_GRAPHQL_LIMIT');
      t.equal(depth.errors?.[0]?.extensions?.details?.limit, 'maxDepth');
      t.equal(depth.data, undefined);

      const aliases = await cp.gql(`{ ${Array.from({ length: 16 }, (_, i) => `a${i}: me { name }`).join(' ')} }`);
      t.equal(aliases.errors?.[0]?.extensions?.details?.limit, 'maxAliases');

      const tokens = await cp.gql(`{ me { ${'name '.repeat(2100)} } }`);
      t.equal(tokens.errors?.[0]?.extensions?.code, 'SLUICE_E_GRAPHQL_LIMIT');
      t.equal(tokens.errors?.[0]?.extensions?.details?.limit, 'maxTokens');

      const fine = await cp.gql(`{ a: me { name } b: me { role } }`);
      t.same(fine.data, { a: { name: 'admin' }, b: { role: 'ADMIN' } }, 'a modest document runs');
    });

    t.test('a document over the cost limit is refused', async (t) => {
      const cp = await startTestControlPlane(t, dialect, { graphqlLimits: { maxCost: 40 } });
      const costly = await cp.gql('{ models { edges { node { name owner description versions { edges { node { number status description } } } } } } }');
      t.equal(costly.errors?.[0]?.extensions?.code, 'SLUICE_E_GRAPHQL_LIMIT');
      t.equal(costly.errors?.[0]?.extensions?.details?.limit, 'maxCost');
      t.notOk((await cp.gql('{ me { name } }')).errors);
    });

    t.test('unknown fields get no suggestions that map the schema', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      const r = await cp.gql('{ modle(name: "weather") { name } }');
      t.ok(r.errors?.length);
      t.notMatch(r.errors![0]!.message, /did you mean/i);
    });

    t.test('a database failure reaches the client as "internal error" without SQL or stack', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await cp.sql('DROP TABLE gateways');
      const res = await fetch(`${cp.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ query: '{ gateways { edges { cursor } } }' }),
      });
      const text = await res.text();
      const body = JSON.parse(text);
      t.equal(body.errors[0].message, 'internal error');
      t.equal(body.errors[0].extensions.code, 'SLUICE_E_INTERNAL');
      t.notMatch(text, /select |no such table|relation|sqlite|stack|\.js:\d+/i);
      t.ok(res.headers.get('x-request-id'), 'the request id lets an operator find the logged cause');
    });

    t.test('requests a cross-site page could send are refused unless they carry a preflight header', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      const text = await fetch(`${cp.url}/graphql`, { method: 'POST', headers: { 'content-type': 'text/plain', ...auth }, body: '{"query":"{ me { name } }"}' });
      t.equal(text.status, 403);
      t.equal(((await text.json()) as any).errors[0].extensions.code, 'SLUICE_E_HTTP_CSRF');
      const get = await fetch(`${cp.url}/graphql?query=${encodeURIComponent('{ me { name } }')}`, { headers: auth });
      t.equal(get.status, 403);
      await get.arrayBuffer();
      const withHeader = await fetch(`${cp.url}/graphql?query=${encodeURIComponent('{ me { name } }')}`, { headers: { ...auth, 'graphql-require-preflight': '1' } });
      t.same(((await withHeader.json()) as any).data, { me: { name: 'admin' } });

      await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
      const form = new FormData();
      form.set('operations', JSON.stringify({ query: 'mutation($f: File!) { createModelVersion(input: { model: "weather", artifact: $f }) { number } }', variables: { f: null } }));
      form.set('map', JSON.stringify({ 0: ['variables.f'] }));
      form.set('0', new Blob(['x']), 'model.onnx');
      const upload = await fetch(`${cp.url}/graphql`, { method: 'POST', headers: auth, body: form });
      t.equal(upload.status, 403, 'a multipart upload without the header is refused');
      await upload.arrayBuffer();
      const mutationOverGet = await fetch(`${cp.url}/graphql?query=${encodeURIComponent('mutation { createModel(input: { name: "x" }) { id } }')}`, {
        headers: { ...auth, 'graphql-require-preflight': '1' },
      });
      t.equal(mutationOverGet.status, 405, 'no mutation over GET');
      await mutationOverGet.arrayBuffer();
    });

    t.test('bodies over the limits are refused with 413, and streamed JSON bodies with 411', async (t) => {
      const cp = await startTestControlPlane(t, dialect, { maxBodyBytes: 4096, maxArtifactBytes: 1000 });
      const big = await cp.gql(`{ me { name } } # ${'x'.repeat(5000)}`);
      t.equal(big.status, 413);
      t.equal(big.errors?.[0]?.extensions?.code, 'SLUICE_E_HTTP_BODY_TOO_LARGE');

      const chunks = new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode('{"query":"{ me { name } }"}'));
          c.close();
        },
      });
      const streamed = await fetch(`${cp.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: chunks, duplex: 'half' } as RequestInit);
      t.equal(streamed.status, 411);
      t.equal(((await streamed.json()) as any).errors[0].extensions.code, 'SLUICE_E_HTTP_LENGTH_REQUIRED');

      await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
      const tooBig = await cp.upload('weather', exampleOnnx('weather'));
      t.equal((tooBig as any).errors?.[0]?.extensions?.code, 'SLUICE_E_HTTP_BODY_TOO_LARGE', 'an artifact over maxArtifactBytes is refused');
    });
  });
}
