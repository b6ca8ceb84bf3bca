// `sluice audit verify`, and the audit flags of `sluice control-plane`: where checkpoints of the
// audit chain are signed and appended, how often, and how long denials are counted (docs/audit.md).
import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { SluiceError } from '../lib/errors.js';
import { defineCommand, type FlagValues } from '../lib/flags.js';
import type { Logger } from '../lib/log.js';
import { DATA_FLAG, DB_FILE_FLAG, DB_FLAG, LOG_LEVEL_FLAG } from './common-flags.js';
import { openExistingStore } from './control-plane-commands.js';
import { databaseUrl } from './secrets.js';
import type { AuditRun } from './servers.js';

const CHECKPOINT_FILE_FLAG = { type: 'string', placeholder: 'path', description: 'append-only file of signed audit checkpoints (default DATA/audit/checkpoints.jsonl)' } as const;

export const AUDIT_SERVER_FLAGS = {
  'audit-checkpoint-file': CHECKPOINT_FILE_FLAG,
  'audit-checkpoint-key': { type: 'string', placeholder: 'path', description: 'Ed25519 key signing the checkpoints, mode 0600 (default DATA/keys/audit-checkpoint-ed25519.pem, created at first start)' },
  'audit-checkpoint-events': { type: 'int', default: 1000, placeholder: 'n', description: 'sign a checkpoint after this many new audit events' },
  'audit-checkpoint-seconds': { type: 'int', default: 60, placeholder: 's', description: '... or this often while events arrive (and always at shutdown)' },
  'audit-denial-window-seconds': { type: 'int', default: 60, placeholder: 's', description: 'repeated denials of one caller are written as one counted event per window' },
} as const;

export function auditRun(v: FlagValues<typeof AUDIT_SERVER_FLAGS>): AuditRun {
  for (const flag of ['audit-checkpoint-events', 'audit-checkpoint-seconds', 'audit-denial-window-seconds'] as const) {
    if (!(v[flag] > 0)) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--${flag} must be a positive number`, { details: { flag } });
  }
  return {
    checkpointFile: v['audit-checkpoint-file'],
    checkpointKey: v['audit-checkpoint-key'],
    checkpointEvents: v['audit-checkpoint-events'],
    checkpointSeconds: v['audit-checkpoint-seconds'],
    denialWindowSeconds: v['audit-denial-window-seconds'],
  };
}

export const AUDIT_VERIFY_COMMAND = defineCommand({
  name: 'audit verify',
  summary: 'Verify the audit hash chain and check the database against the signed checkpoint file; prints the result as JSON, exits 1 when anything disagrees.',
  flags: {
    data: DATA_FLAG,
    db: DB_FLAG,
    'db-file': DB_FILE_FLAG,
    'checkpoint-file': CHECKPOINT_FILE_FLAG,
    'checkpoint-key': { type: 'string', placeholder: 'path', description: 'the checkpoint key, private or public PEM (default DATA/keys/audit-checkpoint-ed25519.pem)' },
    'log-level': LOG_LEVEL_FLAG,
  },
});

export async function runAuditVerify(v: FlagValues<typeof AUDIT_VERIFY_COMMAND.flags>, logger: Logger, out: Writable = process.stdout): Promise<number> {
  const data = resolve(v.data);
  const keyFile = v['checkpoint-key'] ?? join(data, 'keys', 'audit-checkpoint-ed25519.pem');
  let publicKey;
  try {
    // A public key verifies as well as the private one: the checker need not hold the signing key.
    publicKey = createPublicKey(readFileSync(keyFile));
  } catch (err) {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--checkpoint-key ${keyFile} is not a readable Ed25519 key`, { cause: err, details: { flag: 'checkpoint-key' } });
  }
  const store = await openExistingStore(data, databaseUrl(v));
  try {
    const [{ AuditLog }, { CheckpointFile }] = await Promise.all([import('../control-plane/services/audit.js'), import('../control-plane/services/audit-anchor.js')]);
    const file = new CheckpointFile(v['checkpoint-file'] ?? join(data, 'audit', 'checkpoints.jsonl'));
    if (!existsSync(file.path)) throw new SluiceError('SLUICE_E_AUDIT_CHECKPOINT_FILE', `no checkpoint file ${file.path}`, { details: { flag: 'checkpoint-file' } });
    const result = await new AuditLog(store).verify({ file, publicKey });
    out.write(`${JSON.stringify(result)}\n`);
    if (result.ok) logger.info({ events: result.checkedEvents, checkpoints: result.checkpoints }, 'audit log verified against its checkpoints');
    else logger.error({ firstBad: result.firstBad, firstBadCheckpoint: result.firstBadCheckpoint }, 'AUDIT LOG DOES NOT VERIFY');
    return result.ok ? 0 : 1;
  } finally {
    await store.close();
  }
}
