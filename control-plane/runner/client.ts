// The runner's side of the control plane's GraphQL API: JSON operations and one multipart upload
// (the attempt's files), over fetch. A GraphQL error carrying one of our codes becomes a
// SluiceError with that code, so the runner can tell a lost lease from a network failure.
import { ERROR_STATUS, SluiceError, type ErrorCode } from '../../lib/errors.js';
import { tlsFetch, type Fetch } from '../../lib/tls-fetch.js';
import { tlsFailureOf, type ClientTlsFiles } from '../../lib/tls.js';

export class ControlPlaneClient {
  readonly base: string;
  private readonly fetch: Fetch;

  constructor(
    url: string,
    private readonly token: string,
    /** The code of "the control plane cannot be reached": the runner's executor failure, a CLI's bad --control-plane. */
    private readonly unreachable: ErrorCode = 'SLUICE_E_TRAINING_EXECUTOR',
    /** The CA https is trusted by and the client certificate shown (mutual TLS). */
    tls?: ClientTlsFiles,
    /** Headers added to every request at the time it is sent (the runner's `traceparent`). */
    private readonly contextHeaders: () => Record<string, string> = () => ({}),
  ) {
    this.base = url.replace(/\/+$/, '');
    if (!URL.canParse(this.base)) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--control-plane is not a URL: "${url}"`, { details: { flag: 'control-plane' } });
    this.fetch = tlsFetch(tls);
  }

  request<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    return this.post({ 'content-type': 'application/json' }, JSON.stringify({ query, variables }));
  }

  /** A GraphQL multipart request (https://github.com/jaydenseric/graphql-multipart-request-spec): files go to `variables.input.<field>`. */
  upload<T = any>(query: string, input: Record<string, unknown>, files: Record<string, Blob>): Promise<T> {
    const names = Object.keys(files);
    const form = new FormData();
    form.set('operations', JSON.stringify({ query, variables: { input: { ...input, ...Object.fromEntries(names.map((n) => [n, null])) } } }));
    form.set('map', JSON.stringify(Object.fromEntries(names.map((n, i) => [i, [`variables.input.${n}`]]))));
    names.forEach((n, i) => form.set(String(i), files[n]!, n));
    return this.post({ 'graphql-require-preflight': '1' }, form);
  }

  private async post<T>(headers: Record<string, string>, body: string | FormData): Promise<T> {
    let res: Response;
    try {
      res = await this.fetch(`${this.base}/graphql`, { method: 'POST', headers: { ...headers, ...this.contextHeaders(), authorization: `Bearer ${this.token}` }, body, signal: AbortSignal.timeout(120_000) });
    } catch (err) {
      const tls = tlsFailureOf(err);
      if (tls !== undefined) throw new SluiceError('SLUICE_E_TLS_HANDSHAKE', `control plane ${this.base}: TLS handshake failed (${tls})`, { cause: err, details: { reason: tls, flag: 'control-plane' } });
      throw new SluiceError(this.unreachable, `control plane ${this.base} unreachable: ${(err as Error).message}`, { cause: err, details: { flag: 'control-plane' } });
    }
    const answer = (await res.json().catch(() => undefined)) as { data?: T; errors?: { message: string; extensions?: { code?: string; details?: object } }[] } | undefined;
    const error = answer?.errors?.[0];
    if (error) {
      const code = error.extensions?.code;
      const known: ErrorCode = code !== undefined && code in ERROR_STATUS ? (code as ErrorCode) : 'SLUICE_E_TRAINING_EXECUTOR';
      throw new SluiceError(known, `control plane refused: ${error.message}`, { details: { ...error.extensions?.details } });
    }
    if (answer?.data === undefined || answer.data === null) throw new SluiceError('SLUICE_E_TRAINING_EXECUTOR', `${this.base}/graphql answered ${res.status} without GraphQL data`);
    return answer.data;
  }
}
