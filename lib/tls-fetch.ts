// The fetch that control-plane clients (gateway sync and downloads, runners) use. Node 20's global
// fetch takes no CA or client certificate, so with TLS files it is undici's own fetch over an
// Agent that carries them (the same engine as the global one; its Agent is not reachable from the
// global fetch without the package). Without TLS files the global fetch is used, trusting the
// system store (plus NODE_EXTRA_CA_CERTS) for https URLs.
import { Agent, fetch as undiciFetch } from 'undici';
import { readClientTls, hasClientTls, CLIENT_CERT_REFUSED, type ClientTlsFiles } from './tls.js';

export type Fetch = typeof fetch;

/** A fetch that trusts `files.caFile` and presents `files.certFile`/`keyFile`; the global fetch when none is given. */
export function tlsFetch(files: ClientTlsFiles | undefined): Fetch {
  let send: Fetch = fetch;
  if (hasClientTls(files)) {
    const agent = new Agent({ connect: readClientTls(files) });
    send = ((input: Parameters<Fetch>[0], init?: RequestInit) =>
      undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as object), dispatcher: agent } as Parameters<typeof undiciFetch>[1])) as unknown as Fetch;
  }
  return (input, init) => send(input, init).catch((err: unknown) => {
    throw String(input).startsWith('https:') && closedBeforeAnswer(err) ? refusedCertificate(err) : err;
  });
}

/**
 * Under TLS 1.3 a server checks the client's certificate after the client has finished its side
 * of the handshake, so a refused (or missing) certificate reaches the client as an alert that
 * undici reports only as "other side closed" with not one byte of answer read.
 */
function closedBeforeAnswer(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string; socket?: { bytesRead?: number } } } | undefined)?.cause;
  return cause?.code === 'UND_ERR_SOCKET' && cause.socket?.bytesRead === 0;
}

function refusedCertificate(err: unknown): Error {
  const e = new Error('the server closed the TLS connection before answering: it refused this client\'s certificate, or the lack of one (mutual TLS)', { cause: err });
  return Object.assign(e, { code: CLIENT_CERT_REFUSED });
}
