// The CA and client certificate the admin commands (model, alias, rollout, gate, alert, retrain,
// keys, training) use towards an https control plane: `--control-plane-ca`, `--tls-client-cert`,
// `--tls-client-key` (or SLUICE_CONTROL_PLANE_CA, SLUICE_TLS_CLIENT_CERT, SLUICE_TLS_CLIENT_KEY),
// set once per command run by the dispatcher, so the many call sites need not pass them along.
import type { ClientTlsFiles } from '../lib/tls.js';
import { tlsFetch, type Fetch } from '../lib/tls-fetch.js';

let files: ClientTlsFiles | undefined;
let send: Fetch | undefined;

export function setAdminClientTls(tls: ClientTlsFiles | undefined): void {
  files = tls;
  send = undefined;
}

/** What this command run trusts and presents (undefined: the system store, no certificate). */
export function adminClientTls(): ClientTlsFiles | undefined {
  return files;
}

/** fetch with those files. */
export function adminFetch(): Fetch {
  return (send ??= tlsFetch(files));
}
