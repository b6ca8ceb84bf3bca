// The console's only way to the control plane: GraphQL on this origin with the bearer token from
// sessionStorage (gone when the tab closes). JSON POSTs carry a non-simple content type, so the
// CSRF rule (control-plane/plugins/use-csrf-prevention.ts) lets them through without extra headers.
const KEY = 'sluice.token';

export const session = {
  token: () => sessionStorage.getItem(KEY),
  signIn: (token) => sessionStorage.setItem(KEY, token),
  signOut: () => sessionStorage.removeItem(KEY),
};

export class GraphQLFailure extends Error {
  constructor(errors, status) {
    super(errors.map((e) => e.message).join('; '));
    this.code = errors[0]?.extensions?.code ?? `HTTP ${status}`;
  }
}

function headers(extra = {}) {
  return { 'content-type': 'application/json', authorization: `Bearer ${session.token()}`, ...extra };
}

export async function gql(query, variables = {}) {
  const res = await fetch('/graphql', { method: 'POST', headers: headers(), body: JSON.stringify({ query, variables }) });
  let body;
  try {
    body = await res.json();
  } catch {
    throw new GraphQLFailure([{ message: `the control plane answered ${res.status}` }], res.status);
  }
  if (body.errors?.length) throw new GraphQLFailure(body.errors, res.status);
  return body.data;
}

/** An artifact's JSON (a drift profile), downloaded with the bearer token. */
export async function artifactJson(url) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${session.token()}` } });
  if (!res.ok) throw new GraphQLFailure([{ message: `download refused: ${res.status}` }], res.status);
  return res.json();
}

/**
 * A GraphQL subscription over SSE (yoga's transport, a POST so the token goes in a header, which
 * EventSource cannot send). Calls onData with each event's data; reconnects after a dropped stream.
 * Returns the function that ends it.
 */
export function subscribe(query, variables, onData, onError) {
  let stopped = false;
  let abort = new AbortController();
  const run = async () => {
    while (!stopped) {
      try {
        abort = new AbortController();
        const res = await fetch('/graphql', { method: 'POST', headers: headers({ accept: 'text/event-stream' }), body: JSON.stringify({ query, variables }), signal: abort.signal });
        if (!res.ok || !res.body) throw new GraphQLFailure([{ message: `subscription refused: ${res.status}` }], res.status);
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const lines = buffer.slice(0, end).split('\n');
            buffer = buffer.slice(end + 2);
            if (!lines.includes('event: next')) continue;
            const msg = JSON.parse(lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n'));
            if (msg.errors?.length) onError?.(new GraphQLFailure(msg.errors, 200));
            else onData(msg.data);
          }
        }
      } catch (err) {
        if (stopped) return;
        onError?.(err);
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 2000));
    }
  };
  void run();
  return () => {
    stopped = true;
    abort.abort();
  };
}

/** What a role may do, as control-plane/services/permissions.ts says (the buttons follow it). */
const MAY = {
  'rollout:write': ['OPERATOR', 'ADMIN'],
  'training:write': ['DEVELOPER', 'ADMIN'],
  'audit:read': ['ADMIN'],
};
export function may(me, permission) {
  return (MAY[permission] ?? []).includes(me?.role);
}
