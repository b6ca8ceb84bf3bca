/** Wait for a state the system reaches on its own; the bound only keeps a broken run from hanging. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, boundMs = 60_000): Promise<T> {
  const end = Date.now() + boundMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** POST a GraphQL query with a bearer token; throws on GraphQL errors so a test fails with them. */
export async function graphqlAs(url: string, token: string, query: string): Promise<any> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  const body = (await res.json()) as { data?: any; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}
