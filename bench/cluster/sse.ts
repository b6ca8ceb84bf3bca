/** A GraphQL subscription over SSE (yoga's transport), as a gateway would hold it. */
export interface Subscription<T> {
  next(): Promise<T>;
  close(): void;
}

export async function subscribe<T = any>(url: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<Subscription<T>> {
  const abort = new AbortController();
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: abort.signal,
  });
  if (!res.ok || !res.body) throw new Error(`subscription refused: ${res.status} ${await res.text()}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const queued: T[] = [];
  return {
    async next() {
      while (queued.length === 0) {
        const { value, done } = await reader.read();
        if (done) throw new Error('subscription ended');
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = block.split('\n');
          if (!lines.includes('event: next')) continue;
          const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          queued.push(JSON.parse(data) as T);
        }
      }
      return queued.shift()!;
    },
    close() {
      abort.abort();
    },
  };
}
