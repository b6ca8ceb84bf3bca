// `sluice keys rotate-kek`: re-wrap every artifact's data key and the registry signing key from the
// current KEK to a new one, on the control plane's machine with the control plane stopped (it holds
// one KEK). Data files are not rewritten; plaintext files left from before encryption are encrypted.
// The rotation is one audit event (kek.rotate) with the key ids and counts.
import { hostname, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { defineCommand, type FlagValues } from '../lib/flags.js';
import type { CallContext } from '../control-plane/services/actor.js';
import { ARTIFACT_STORE_FLAG, DATA_FLAG, DB_FLAG, LOG_LEVEL_FLAG } from './common-flags.js';
import { openExistingStore } from './control-plane-commands.js';

export const KEYS_ROTATE_KEK_COMMAND = defineCommand({
  name: 'keys rotate-kek',
  summary: "Re-wrap the artifacts' data keys and the signing key under a new KEK (control plane stopped); audited.",
  flags: {
    data: DATA_FLAG,
    db: DB_FLAG,
    'kek-file': { type: 'string', required: true, placeholder: 'path', description: 'the KEK the keys are wrapped by now' },
    'new-kek-file': { type: 'string', required: true, placeholder: 'path', description: 'the new KEK (created 0600 when absent); start the control plane with it afterwards' },
    'artifact-store': ARTIFACT_STORE_FLAG,
    'artifact-dir': { type: 'string', placeholder: 'dir', description: 'artifact folder (default DATA/artifacts)' },
    'signing-key-file': { type: 'string', placeholder: 'path', description: 'registry key (default DATA/keys/registry-ed25519.pem)' },
    'log-level': LOG_LEVEL_FLAG,
  },
});

/** Prints one JSON line: `{"from", "to", "rewrapped", "encrypted", "signingKey"}`. */
export async function runRotateKek(v: FlagValues<typeof KEYS_ROTATE_KEK_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const [{ LocalKek }, { ArtifactStore }, { RegistryKey }, { AuditLog }, { PgBlobStore }] = await Promise.all([
    import('../control-plane/services/artifact-crypto.js'),
    import('../control-plane/services/artifact-store.js'),
    import('../control-plane/services/signing.js'),
    import('../control-plane/services/audit.js'),
    import('../control-plane/store/blob-pg.js'),
  ]);
  const data = resolve(v.data);
  const from = LocalKek.fromFile(resolve(v['kek-file']));
  const to = LocalKek.fromFile(resolve(v['new-kek-file']));
  const store = await openExistingStore(data, v.db);
  try {
    const artifactDir = v['artifact-dir'] === undefined ? join(data, 'artifacts') : resolve(v['artifact-dir']);
    const artifacts = new ArtifactStore(v['artifact-store'] === 'postgres' ? new PgBlobStore(store, join(artifactDir, 'tmp')) : artifactDir, Number.MAX_SAFE_INTEGER, to);
    const counts = await artifacts.rewrap(from);
    // The key in the database (--artifact-store postgres) and any key file: both re-wrapped.
    const sharedKey = await RegistryKey.rewrapShared(store, from, to);
    const fileKey = await RegistryKey.rewrapSealed(v['signing-key-file'] === undefined ? join(data, 'keys', 'registry-ed25519.pem') : resolve(v['signing-key-file']), from, to);
    const signingKey = sharedKey || fileKey;
    const user = `${userInfo().username}@${hostname()}`;
    const ctx: CallContext = {
      actor: { id: 'local-cli', name: `sluice keys rotate-kek (${user})`, role: 'system' },
      request: { requestId: `cli-rotate-kek-${process.pid}-${Date.now()}`, clientAddress: 'local' },
    };
    const result = { from: from.keyId, to: to.keyId, ...counts, signingKey };
    await new AuditLog(store).record(ctx, { action: 'kek.rotate', resource: 'artifacts', outcome: 'success', before: { kek: from.keyId }, after: result });
    out.write(`${JSON.stringify(result)}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
