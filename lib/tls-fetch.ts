// The fetch that control-plane clients (gateway sync and downloads, runners, admin commands) use:
// undici's own fetch, always over an Agent of the same package passed as its dispatcher. Node 20's
// global fetch takes no CA or client certificate, and mixing it with the package's Agent (or the
// package's fetch with Node's FormData) breaks requests, so one engine carries every request here.
// Without TLS files the Agent trusts the system store (plus NODE_EXTRA_CA_CERTS) for https URLs.
import './node-dispatcher-first.js';
import { Agent, FormData, fetch as undiciFetch } from 'undici';
import { readClientTls, hasClientTls, CLIENT_CERT_REFUSED, type ClientTlsFiles } from './tls.js';

export type Fetch = typeof undiciFetch;
/** What a Fetch answers (undici's Response type, not the DOM's). */
export type FetchResponse = Awaited<ReturnType<Fetch>>;

/**
 * The multipart body class this fetch understands: Node's global FormData belongs to its bundled
 * undici, and this fetch would send one as the text "[object FormData]".
 */
export { FormData };

let plainAgent: Agent | undefined;

/** A fetch that trusts `files.caFile` and presents `files.certFile`/`keyFile`; the system store and no certificate when none is given. */
export function tlsFetch(files: ClientTlsFiles | undefined): Fetch {
  const agent = hasClientTls(files) ? new Agent({ connect: readClientTls(files) }) : (plainAgent ??= new Agent());
  return (input, init) => undiciFetch(input, { ...init, dispatcher: agent }).catch((err: unknown) => {
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
