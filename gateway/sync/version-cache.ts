// The gateway's cache of registry versions: each version folder keeps the registry's signed
// statement beside its files (a DSSE envelope, `statement.dsse.json`), so that after a restart the
// gateway can check the folder before serving it: the statement's signature against a trusted
// registry key, its model and version against the folder's, and every file's SHA-256 against the
// digest the statement gives it. A folder that fails is not loaded; the sync fetches it again.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SluiceError } from '../../lib/errors.js';
import { STATEMENT_PAYLOAD_TYPE, subjectDigest, verifyVersionStatement, type VersionFileName, type VersionStatement } from '../../lib/artifact-signature.js';
import type { TrustedKey } from '../../lib/registry-key-chain.js';

export const STATEMENT_FILE = 'statement.dsse.json';

const PLAIN_FILE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

interface Envelope {
  payloadType: string;
  payload: string;
  signatures: { keyid: string; sig: string }[];
}

/** The envelope stored beside a version's files. */
export function statementEnvelope(statement: string, signature: string, keyId: string): string {
  const envelope: Envelope = { payloadType: STATEMENT_PAYLOAD_TYPE, payload: statement, signatures: [{ keyid: keyId, sig: signature }] };
  return `${JSON.stringify(envelope)}\n`;
}

/** Where a version's profile goes: the file its config's drift.profile names (profile.json by default). */
export function profileFileName(config: Uint8Array | undefined): string {
  if (config === undefined) return 'profile.json';
  let name: unknown;
  try {
    name = (JSON.parse(Buffer.from(config).toString('utf8')) as { drift?: { profile?: unknown } }).drift?.profile;
  } catch {
    return 'profile.json'; // the repository refuses the config itself, naming what is wrong
  }
  return typeof name === 'string' && PLAIN_FILE.test(name) && name !== 'model.onnx' && name !== 'config.json' ? name : 'profile.json';
}

/** The paths of a version's files as its folder holds them (its own config, else the model's). */
export function versionPaths(modelDir: string, versionDir: string): Record<VersionFileName, string> {
  const ownConfig = join(versionDir, 'config.json');
  const configPath = existsSync(ownConfig) ? ownConfig : join(modelDir, 'config.json');
  return {
    'model.onnx': join(versionDir, 'model.onnx'),
    'config.json': configPath,
    'profile.json': join(versionDir, profileFileName(existsSync(configPath) ? readFileSync(configPath) : undefined)),
  };
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/**
 * Check a cached version folder: its stored statement verifies with one of `keys` (the key its
 * envelope names, while that key is still trusted at `now`), names this model and version, and
 * every file it names is on disk with that digest. Throws SLUICE_E_CACHE_UNVERIFIED saying why.
 */
export function verifyCachedVersion(modelDir: string, versionDir: string, model: string, version: string, keys: readonly TrustedKey[], now = new Date()): VersionStatement {
  const unverified = (why: string, cause?: unknown) => new SluiceError('SLUICE_E_CACHE_UNVERIFIED', `cached ${model} version ${version}: ${why}`, cause === undefined ? {} : { cause });
  const file = join(versionDir, STATEMENT_FILE);
  if (!existsSync(file)) throw unverified(`no signed statement (${STATEMENT_FILE}) beside its files`);
  let envelope: Envelope;
  try {
    envelope = JSON.parse(readFileSync(file, 'utf8')) as Envelope;
  } catch (err) {
    throw unverified(`${STATEMENT_FILE} is not JSON`, err);
  }
  const sig = Array.isArray(envelope?.signatures) ? envelope.signatures[0] : undefined;
  if (envelope?.payloadType !== STATEMENT_PAYLOAD_TYPE || typeof envelope.payload !== 'string' || typeof sig?.sig !== 'string') throw unverified(`${STATEMENT_FILE} is not a DSSE envelope`);
  const key = keys.find((k) => k.keyId === sig.keyid);
  if (key === undefined) throw unverified(`signed by registry key ${String(sig.keyid)}, which this gateway does not trust`);
  if (key.until !== undefined && Date.parse(key.until) < now.getTime()) throw unverified(`signed by registry key ${key.keyId}, whose overlap after rotation ended at ${key.until}`);
  let statement: VersionStatement;
  try {
    statement = verifyVersionStatement(key.publicKeyPem, envelope.payload, sig.sig);
  } catch (err) {
    throw unverified('its statement does not verify with the registry key', err);
  }
  const p = statement.predicate;
  if (p?.model !== model || String(p.version) !== version || p.registryKey !== key.keyId) throw unverified(`its statement is for ${p?.model} version ${p?.version}`);
  const paths = versionPaths(modelDir, versionDir);
  for (const subject of statement.subject) {
    const path = paths[subject.name];
    if (path === undefined || !existsSync(path)) throw unverified(`${subject.name} is missing`);
    const digest = sha256File(path);
    if (digest !== subjectDigest(statement, subject.name)) throw unverified(`${subject.name} has sha256 ${digest}, the registry signed ${subject.digest.sha256}`);
  }
  return statement;
}
