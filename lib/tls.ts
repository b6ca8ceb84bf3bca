// TLS settings both planes share: the files a server presents (and the CA its clients' certificates
// must chain to, for mutual TLS), the files a client trusts and presents, and how a handshake
// failure is told apart from an unreachable peer. Files are read and checked here, once, so a bad
// certificate or a key that does not match stops a start (or a reload) with the file named.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { SluiceError } from './errors.js';

/** What a TLS server presents: `--tls-cert`, `--tls-key`, and for mutual TLS `--tls-client-ca`. */
export interface ServerTlsFiles {
  certFile: string;
  keyFile: string;
  /** Ask every client for a certificate and refuse the handshake unless it chains to this CA. */
  clientCaFile?: string | undefined;
}

/** A certificate and its key, without client verification (the gateway: its callers authenticate with tokens). */
export type CertificateFiles = Omit<ServerTlsFiles, 'clientCaFile'>;

/** What a client of the control plane trusts and presents: `--control-plane-ca`, `--tls-client-cert`, `--tls-client-key`. */
export interface ClientTlsFiles {
  /** Trust only this CA (PEM, may hold several) instead of the system store. */
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

/** The files' contents, checked: the certificate parses, the key matches it, the CA parses. */
export interface ServerTlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer | undefined;
  /** The leaf certificate's serial number (hex), for logs: a reload shows the new one. */
  serial: string;
  /** When the leaf certificate stops being valid. */
  validTo: Date;
}

function readPem(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new SluiceError('SLUICE_E_CONFIG_FILE_MISSING', `--${flag} ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err, details: { flag } });
  }
}

function unusable(flag: string, path: string, why: string, cause?: unknown): SluiceError {
  return new SluiceError('SLUICE_E_TLS_FILE_INVALID', `--${flag} ${path}: ${why}`, { cause, details: { flag } });
}

/** Read and check a server's certificate, key and (mutual TLS) client CA. */
export function readServerTls(files: ServerTlsFiles): ServerTlsMaterial {
  const cert = readPem(files.certFile, 'tls-cert');
  const key = readPem(files.keyFile, 'tls-key');
  const ca = files.clientCaFile === undefined ? undefined : readPem(files.clientCaFile, 'tls-client-ca');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw unusable('tls-cert', files.certFile, 'not a PEM certificate', err);
  }
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(key))) throw unusable('tls-key', files.keyFile, `does not match the certificate in ${files.certFile}`);
  } catch (err) {
    throw err instanceof SluiceError ? err : unusable('tls-key', files.keyFile, 'not a PEM private key (an encrypted key is not supported)', err);
  }
  if (ca !== undefined) checkCa(ca, 'tls-client-ca', files.clientCaFile!);
  return { cert, key, ca, serial: leaf.serialNumber, validTo: new Date(leaf.validTo) };
}

function checkCa(ca: Buffer, flag: string, path: string): void {
  try {
    createSecureContext({ ca });
    new X509Certificate(ca);
  } catch (err) {
    throw unusable(flag, path, 'not a PEM CA certificate', err);
  }
}

/** The client's files as TLS connect options (undefined entries left out), checked like the server's. */
export function readClientTls(files: ClientTlsFiles): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  if ((files.certFile === undefined) !== (files.keyFile === undefined)) {
    const missing = files.certFile === undefined ? 'tls-client-cert' : 'tls-client-key';
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--tls-client-cert and --tls-client-key go together: --${missing} is missing`, { details: { flag: missing } });
  }
  const out: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  if (files.caFile !== undefined) {
    out.ca = readPem(files.caFile, 'control-plane-ca');
    checkCa(out.ca, 'control-plane-ca', files.caFile);
  }
  if (files.certFile !== undefined && files.keyFile !== undefined) {
    const m = readServerTls({ certFile: files.certFile, keyFile: files.keyFile });
    out.cert = m.cert;
    out.key = m.key;
  }
  return out;
}

/** Whether a client was given any TLS file (else the default trust store and no client certificate). */
export function hasClientTls(files: ClientTlsFiles | undefined): files is ClientTlsFiles {
  return files !== undefined && (files.caFile !== undefined || files.certFile !== undefined || files.keyFile !== undefined);
}

/** The code tls-fetch.ts gives a TLS connection the server closed unanswered (its refusal of our client certificate under TLS 1.3). */
export const CLIENT_CERT_REFUSED = 'ERR_TLS_CLIENT_CERT_REFUSED';

// OpenSSL's verify results as Node names them, and its alerts (ERR_SSL_*), are handshake failures:
// the peer is reachable but one side refused the other's certificate.
const CERT_ERRORS = new Set([
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'EPROTO', CLIENT_CERT_REFUSED,
]);

/** The TLS reason (e.g. CERT_HAS_EXPIRED, ERR_SSL_TLSV1_ALERT_UNKNOWN_CA) somewhere in an error's cause chain, if any. */
export function tlsFailureOf(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && (CERT_ERRORS.has(code) || code.startsWith('ERR_SSL_'))) return code;
  }
  return undefined;
}
