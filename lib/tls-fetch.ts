// The fetch that control-plane clients (gateway sync and downloads, runners) use. Node 20's global
// fetch takes no CA or client certificate, so with TLS files it is undici's own fetch over an
// Agent that carries them (the same engine as the global one; its Agent is not reachable from the
// global fetch without the package). Without TLS files the global fetch is used, trusting the
// system store (plus NODE_EXTRA_CA_CERTS) for https URLs.
import { Agent, fetch as undiciFetch } from 'undici';
import { readClientTls, hasClientTls, type ClientTlsFiles } from './tls.js';

export type Fetch = typeof fetch;

/** A fetch that trusts `files.caFile` and presents `files.certFile`/`keyFile`; the global fetch when none is given. */
export function tlsFetch(files: ClientTlsFiles | undefined): Fetch {
  if (!hasClientTls(files)) return fetch;
  const agent = new Agent({ connect: readClientTls(files) });
  return ((input: Parameters<Fetch>[0], init?: RequestInit) =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as object), dispatcher: agent } as Parameters<typeof undiciFetch>[1])) as unknown as Fetch;
}
