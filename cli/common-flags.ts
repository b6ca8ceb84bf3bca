// Flags several commands share, in the table format of flags.ts.
import { LOG_FORMATS, LOG_LEVELS } from '../lib/log.js';
import type { FlagSpec } from '../lib/flags.js';
import { SluiceError } from '../lib/errors.js';
import { ARTIFACT_STORE_KINDS } from '../control-plane/store/blob-store.js';
import type { ClientTlsFiles, ServerTlsFiles } from '../lib/tls.js';

export const HOST_FLAG = { type: 'string', default: '127.0.0.1', placeholder: 'address', description: 'address to listen on' } as const satisfies FlagSpec<'string'>;
export const LOG_LEVEL_FLAG = { type: 'string', default: 'info', choices: LOG_LEVELS, description: 'least severe level logged' } as const satisfies FlagSpec<'string'>;
export const LOG_FORMAT_FLAG = {
  type: 'string',
  default: 'auto',
  choices: ['auto', ...LOG_FORMATS],
  description: 'json lines, or pretty lines for a person; auto is pretty on a terminal, json otherwise',
} as const satisfies FlagSpec<'string'>;
export const DRAIN_FLAG = { type: 'int', default: 10_000, placeholder: 'ms', description: 'how long shutdown waits for in-flight calls' } as const satisfies FlagSpec<'int'>;
export const DATA_FLAG = { type: 'string', default: './.sluice', placeholder: 'dir', description: 'control-plane data folder (SQLite database, artifacts, keys)' } as const satisfies FlagSpec<'string'>;
export const DB_FLAG = { type: 'string', placeholder: 'postgres://…', description: 'store in this PostgreSQL database instead of SQLite' } as const satisfies FlagSpec<'string'>;
/** Where artifacts live: a folder, or PostgreSQL for replicas without a shared disk (docs/data-at-rest.md). */
export const ARTIFACT_STORE_FLAG = {
  type: 'string',
  default: 'fs',
  choices: ARTIFACT_STORE_KINDS,
  description: 'where artifacts live: fs (DATA/artifacts) or postgres (in --db, with the signing key sealed under the KEK)',
} as const satisfies FlagSpec<'string'>;
/** Commands that call a running control plane's GraphQL API. */
export const CONTROL_PLANE_FLAG = { type: 'string', default: 'http://127.0.0.1:8080', placeholder: 'url', description: 'control plane URL' } as const satisfies FlagSpec<'string'>;
export function tokenFlag(description: string) {
  return { type: 'string', required: true, description } as const satisfies FlagSpec<'string'>;
}
/** Promote past a failed promotion gate (docs/gates.md): admins only, audited as gate.override with the reason. */
export const GATE_OVERRIDE_FLAG = { type: 'string', placeholder: 'reason', description: 'admin only: promote although the gate failed, for this reason (audited)' } as const satisfies FlagSpec<'string'>;
/** A server's TLS files (docs/tls.md): with both, it serves https (and wss); SIGHUP re-reads them. */
export const SERVER_TLS_FLAGS = {
  'tls-cert': { type: 'string', placeholder: 'cert.pem', description: 'serve TLS with this certificate chain (PEM); SIGHUP re-reads it' },
  'tls-key': { type: 'string', placeholder: 'key.pem', description: 'the private key of --tls-cert (PEM, unencrypted)' },
} as const satisfies Record<string, FlagSpec<'string'>>;
/** The control plane's mutual TLS: clients must present a certificate from this CA. */
export const TLS_CLIENT_CA_FLAG = { type: 'string', placeholder: 'ca.pem', description: 'mutual TLS: refuse clients whose certificate does not chain to this CA (PEM)' } as const satisfies FlagSpec<'string'>;
/** How a gateway or runner reaches an https control plane. */
export const CLIENT_TLS_FLAGS = {
  'control-plane-ca': { type: 'string', placeholder: 'ca.pem', description: "trust only this CA (PEM) for the control plane's certificate (default: the system store)" },
  'tls-client-cert': { type: 'string', placeholder: 'cert.pem', description: 'mutual TLS: client certificate shown to the control plane' },
  'tls-client-key': { type: 'string', placeholder: 'key.pem', description: 'the private key of --tls-client-cert' },
} as const satisfies Record<string, FlagSpec<'string'>>;
/**
 * The flags of every command that calls a running control plane's API: where it is, how TLS reaches
 * it, the caller's token and how much the command logs. A command spreads them first and may give
 * `token` again with a description that names the roles it needs (the flag keeps its place in --help).
 */
export const ADMIN_CLIENT_FLAGS = {
  'control-plane': CONTROL_PLANE_FLAG,
  ...CLIENT_TLS_FLAGS,
  token: tokenFlag('any token of the control plane'),
  'log-level': LOG_LEVEL_FLAG,
} as const;

/** --tls-cert/--tls-key (and a client CA) as the servers take them; refused when only one of the pair is given. */
export function serverTlsOf(v: { 'tls-cert'?: string | undefined; 'tls-key'?: string | undefined }, clientCaFile?: string): ServerTlsFiles | undefined {
  const cert = v['tls-cert'];
  const key = v['tls-key'];
  if (cert === undefined && key === undefined) {
    if (clientCaFile !== undefined) throw new SluiceError('SLUICE_E_CONFIG_INVALID', '--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS)', { details: { flag: 'tls-client-ca' } });
    return undefined;
  }
  if (cert === undefined || key === undefined) {
    const missing = cert === undefined ? 'tls-cert' : 'tls-key';
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--tls-cert and --tls-key go together: --${missing} is missing`, { details: { flag: missing } });
  }
  return { certFile: cert, keyFile: key, ...(clientCaFile !== undefined ? { clientCaFile } : {}) };
}

/** --control-plane-ca/--tls-client-cert/--tls-client-key as the clients take them (undefined: none given). */
export function clientTlsOf(v: { 'control-plane-ca'?: string | undefined; 'tls-client-cert'?: string | undefined; 'tls-client-key'?: string | undefined }): ClientTlsFiles | undefined {
  const files = { caFile: v['control-plane-ca'], certFile: v['tls-client-cert'], keyFile: v['tls-client-key'] };
  return files.caFile === undefined && files.certFile === undefined && files.keyFile === undefined ? undefined : files;
}
/** A file holding the PostgreSQL URL (0600), so its password stays out of `ps`; SLUICE_DATABASE_URL works too. */
export const DB_FILE_FLAG = { type: 'string', placeholder: 'path', description: 'read the PostgreSQL URL from this file (mode 0600) instead of --db' } as const satisfies FlagSpec<'string'>;
