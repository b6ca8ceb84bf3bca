// The gateway's view of the control plane: GraphQL over fetch with the gateway's bearer token, the
// desired-state subscription over SSE, and artifact downloads. Every failure is a SluiceError so
// the sync loop can log it and carry on serving.
import { SluiceError } from '../../lib/errors.js';
import { tlsFetch, type Fetch, type FetchResponse } from '../../lib/tls-fetch.js';
import { tlsFailureOf, type ClientTlsFiles } from '../../lib/tls.js';
import { DESIRED_STATE_FIELDS, REPORT_TRAFFIC_MUTATION, type LoadedVersionReport, type WireDesiredState as DesiredState, type WireTrafficWindow } from '../../lib/sync-wire.js';

export type { WireDesiredModel as DesiredModel, WireDesiredState as DesiredState, WireDesiredVersion as DesiredVersion, LoadedVersionReport } from '../../lib/sync-wire.js';

export class ControlPlaneClient {
  private readonly base: string;
  private readonly fetch: Fetch;

  constructor(
    url: string,
    private readonly token: string,
    /** Aborts every request in flight (the gateway is closing). */
    private readonly closing: AbortSignal = new AbortController().signal,
    /** The CA that https URLs are trusted by and the client certificate shown (mutual TLS); downloads use them too. */
    tls?: ClientTlsFiles,
  ) {
    this.base = url.replace(/\/+$/, '');
    this.fetch = tlsFetch(tls);
  }

  private async graphql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    let res: FetchResponse;
    try {
      res = await this.fetch(`${this.base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.any([this.closing, AbortSignal.timeout(10_000)]),
      });
    } catch (err) {
      throw unreachable(`control plane ${this.base} unreachable`, err);
    }
    const body = (await res.json().catch(() => ({}))) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
    const error = body.errors?.[0];
    if (error || body.data === undefined) {
      const code = error?.extensions?.code;
      throw new SluiceError(code === 'SLUICE_E_AUTH_INVALID' || code === 'SLUICE_E_AUTH_MISSING' ? 'SLUICE_E_AUTH_INVALID' : 'SLUICE_E_VALIDATION', `control plane refused: ${error?.message ?? res.status} (${code ?? 'no code'})`);
    }
    return body.data;
  }

  async register(name: string, region: string, labels: Record<string, string>): Promise<void> {
    await this.graphql('mutation($input: RegisterGatewayInput!) { registerGateway(input: $input) { id } }', {
      input: { name, region, labels: Object.entries(labels).map(([key, value]) => ({ key, value })) },
    });
  }

  async heartbeat(name: string, loaded: LoadedVersionReport[], health: 'HEALTHY' | 'DEGRADED' | 'UNHEALTHY', message: string, advertiseUrl?: string): Promise<void> {
    // advertiseUrl only when there is one: a control plane older than the field still takes the beat.
    const input = { name, loaded, health, message, ...(advertiseUrl === undefined ? {} : { advertiseUrl }) };
    await this.graphql('mutation($input: HeartbeatInput!) { heartbeat(input: $input) { id } }', { input });
  }

  /** Send traffic windows; resolves with how many the control plane stored. */
  async reportTraffic(gateway: string, windows: WireTrafficWindow[]): Promise<number> {
    return (await this.graphql<{ reportTraffic: number }>(REPORT_TRAFFIC_MUTATION, { gateway, windows })).reportTraffic;
  }

  async desiredState(): Promise<DesiredState> {
    return (await this.graphql<{ desiredState: DesiredState }>(`{ desiredState { ${DESIRED_STATE_FIELDS} } }`)).desiredState;
  }

  async download(url: string, maxBytes: number): Promise<Uint8Array> {
    let res: FetchResponse;
    try {
      res = await this.fetch(url, { headers: { authorization: `Bearer ${this.token}` }, signal: AbortSignal.any([this.closing, AbortSignal.timeout(300_000)]) });
    } catch (err) {
      throw unreachable(`artifact download from ${url} failed`, err);
    }
    if (!res.ok) throw new SluiceError('SLUICE_E_ARTIFACT_INVALID', `artifact download from ${url} answered ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.length > maxBytes) throw new SluiceError('SLUICE_E_ARTIFACT_INVALID', `artifact from ${url} is larger than ${maxBytes} bytes`);
    return bytes;
  }

  /**
   * Hold the desiredStateChanged subscription and call `onState` for each pushed state until
   * `signal` aborts or the stream ends (the caller reconnects).
   */
  async subscribe(onState: (state: DesiredState) => void, signal: AbortSignal): Promise<void> {
    let res: FetchResponse;
    try {
      res = await this.fetch(`${this.base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${this.token}` },
        body: JSON.stringify({ query: `subscription { desiredStateChanged { ${DESIRED_STATE_FIELDS} } }` }),
        signal,
      });
    } catch (err) {
      throw unreachable(`control plane ${this.base} unreachable`, err);
    }
    if (!res.ok || !res.body) throw new SluiceError('SLUICE_E_HTTP_BAD_REQUEST', `subscription refused with ${res.status}`);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const lines = buffer.slice(0, end).split('\n');
        buffer = buffer.slice(end + 2);
        if (!lines.includes('event: next')) continue;
        const data = JSON.parse(lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n')) as { data?: { desiredStateChanged: DesiredState } };
        if (data.data) onState(data.data.desiredStateChanged);
      }
    }
  }
}

/** A request that did not get an answer: a refused certificate (either side's) is told apart from a peer that is down. */
function unreachable(message: string, err: unknown): SluiceError {
  const tls = tlsFailureOf(err);
  if (tls !== undefined) return new SluiceError('SLUICE_E_TLS_HANDSHAKE', `${message}: TLS handshake failed (${tls})`, { cause: err, details: { reason: tls } });
  return new SluiceError('SLUICE_E_HTTP_DRAINING', message, { cause: err });
}
