// The short fuzz run over GraphQL documents against a real control plane's yoga handler (SQLite),
// every 30th also over HTTP; and the two bugs the fuzzer found there, each named for its input.
import t from 'tap';
import { controlPlaneSchema } from '../../control-plane/resolvers/index.js';
import { graphqlSurface } from '../../bench/fuzz/surfaces.js';
import { startFuzzControlPlane } from '../../bench/fuzz/targets.js';
import { fuzzSurface, SEED } from './fuzz-harness.js';

t.comment(`fuzz seed ${SEED} (SLUICE_FUZZ_SEED to change)`);
const cp = await startFuzzControlPlane();
t.teardown(() => cp.close());

async function post(query: string, variables?: Record<string, unknown>): Promise<{ status: number; codes: unknown[] }> {
  const body = JSON.stringify({ query, variables });
  const res = await fetch(`${cp.url}/graphql`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${cp.token}` },
  });
  const json = (await res.json()) as { errors?: { extensions?: { code?: unknown } }[] };
  return { status: res.status, codes: (json.errors ?? []).map((e) => e.extensions?.code) };
}

// With yoga's document cache on, this run's heap grew by 147 MiB (1,500 hostile documents kept).
t.test('GraphQL documents: no 5xx, every error carries a SLUICE_E_ code, heap flat', (t) =>
  fuzzSurface(t, graphqlSurface(controlPlaneSchema(), cp), { runs: 1500, networkEvery: 30, concurrency: 4 }));

t.test('a document that does not parse ("query { a b(") gets SLUICE_E_GRAPHQL_INVALID, not GRAPHQL_PARSE_FAILED', async (t) => {
  const r = await post('query { a b(');
  t.equal(r.status, 400);
  t.same(r.codes, ['SLUICE_E_GRAPHQL_INVALID']);
});

t.test('an unused variable ("query Fuzz($v0: String) { me { name } }") gets SLUICE_E_GRAPHQL_INVALID, not GRAPHQL_VALIDATION_FAILED', async (t) => {
  const r = await post('query Fuzz($v0: String) { me { name } }', { v0: true });
  t.equal(r.status, 400);
  t.same(r.codes, ['SLUICE_E_GRAPHQL_INVALID']);
});
