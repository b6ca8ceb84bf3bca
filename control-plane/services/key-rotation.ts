// Explicit rotation of the registry's signing key. The new key is made, the old key signs a
// rotation statement naming it (lib/registry-key-chain.ts), every version statement and artifact
// signature is signed again with the new key, and the key file and chain are replaced — all in one
// audited transaction, so a failure leaves the old key in force and nothing half-signed. Gateways
// get the chain with the desired state and re-pin through it; the old key stays trusted on them
// until the overlap ends, so cached versions signed by it keep loading meanwhile.
import { sign, type KeyObject } from 'node:crypto';
import { SluiceError } from '../../lib/errors.js';
import { artifactSignedMessage, preAuthEncoding, STATEMENT_PAYLOAD_TYPE, type VersionStatement } from '../../lib/artifact-signature.js';
import type { Store, Tx } from '../store/db.js';
import type { CallContext } from './actor.js';
import type { AuditLog } from './audit.js';
import type { RegistryKey } from './signing.js';

export interface KeyRotationResult {
  previousKeyId: string;
  keyId: string;
  publicKeyPem: string;
  overlapUntil: string;
  /** Version statements signed again with the new key. */
  resigned: number;
}

/** Default overlap: a week, long enough for every gateway to see the new state at least once. */
export const DEFAULT_OVERLAP_SECONDS = 7 * 86_400;

export async function rotateSigningKey(deps: { audit: AuditLog; key: RegistryKey }, ctx: CallContext, overlapSeconds = DEFAULT_OVERLAP_SECONDS): Promise<KeyRotationResult> {
  if (!Number.isInteger(overlapSeconds) || overlapSeconds < 0 || overlapSeconds > 365 * 86_400) {
    throw new SluiceError('SLUICE_E_VALIDATION', 'overlapSeconds must be an integer from 0 to 31536000 (a year)', { details: { field: 'overlapSeconds' } });
  }
  const { key, audit } = deps;
  const previousKeyId = key.keyId;
  const prepared = await key.prepareRotation(overlapSeconds);
  const overlapUntil = new Date(Date.now() + overlapSeconds * 1000).toISOString();
  const resigned = await audit.audited(ctx, 'registry_key.rotate', `registry-key/${previousKeyId}`, async (tx) => {
    const count = await resignAll(tx, prepared.next, prepared.keyId, false);
    // Last: a failure to write the files rolls the re-signing back with the transaction.
    await key.persistRotation(prepared, tx);
    return { result: count, resource: `registry-key/${prepared.keyId}`, before: { keyId: previousKeyId }, after: { keyId: prepared.keyId, overlapUntil, resignedVersions: count } };
  });
  key.commitRotation(prepared);
  return { previousKeyId, keyId: prepared.keyId, publicKeyPem: prepared.publicKeyPem, overlapUntil, resigned };
}

/**
 * At start: statements signed by another key than the current one (a rotation interrupted between
 * its files and its transaction) are signed again. Returns how many.
 */
export async function resignStaleStatements(store: Store, privateKey: KeyObject, keyId: string): Promise<number> {
  return store.db.transaction().execute((tx) => resignAll(tx, privateKey, keyId, true));
}

async function resignAll(tx: Tx, privateKey: KeyObject, keyId: string, onlyStale: boolean): Promise<number> {
  const versions = await tx.selectFrom('model_versions').select(['id', 'statement']).where('statement', 'is not', null).execute();
  let count = 0;
  for (const v of versions) {
    const statement = JSON.parse(Buffer.from(v.statement!, 'base64').toString('utf8')) as VersionStatement;
    if (onlyStale && statement.predicate.registryKey === keyId) continue;
    statement.predicate.registryKey = keyId;
    const payload = Buffer.from(JSON.stringify(statement));
    const signature = sign(null, preAuthEncoding(STATEMENT_PAYLOAD_TYPE, payload), privateKey).toString('base64');
    await tx.updateTable('model_versions').set({ statement: payload.toString('base64'), statement_signature: signature }).where('id', '=', v.id).execute();
    count++;
  }
  const artifacts = await tx.selectFrom('artifacts').select(['sha256', 'key_id']).execute();
  for (const a of artifacts) {
    if (onlyStale && a.key_id === keyId) continue;
    await tx.updateTable('artifacts').set({ signature: sign(null, artifactSignedMessage(a.sha256), privateKey).toString('base64'), key_id: keyId }).where('sha256', '=', a.sha256).execute();
  }
  return count;
}
