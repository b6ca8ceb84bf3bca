import t, { type Test } from 'tap';
import BetterSqlite3 from 'better-sqlite3';
import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompactSign } from 'jose';
import { startControlPlane } from '../../control-plane/index.js';
import { auditEventHash } from '../../control-plane/services/audit-chain.js';
import { GENESIS_HASH } from '../../control-plane/store/genesis.js';
import type { AuditEventTable } from '../../control-plane/store/tables.js';
import { createLogger } from '../../lib/log.js';
import { modelWithVersion, startTestControlPlane, stopPostgres, type DialectName, type TestControlPlane } from './harness.js';

t.teardown(stopPostgres);

const VERIFY = '{ verifyAudit { ok checkedEvents firstBad { seq reason } checkpoints firstBadCheckpoint { line seq reason } } }';

/** Some audited changes: model, version, alias, token. */
async function history(cp: TestControlPlane, model = 'weather'): Promise<void> {
  await modelWithVersion(cp, model);
  await cp.gql('mutation($m: String!) { setAlias(input: { model: $m, alias: "production", version: 1 }) { name } }', { m: model });
  await cp.token('viewer', `auditor-${model}`);
}

let hoursAhead = 0;
/** Sign a checkpoint of the head now: a tick an hour past the previous one makes the time rule due. */
async function checkpoint(cp: TestControlPlane): Promise<void> {
  await cp.server.auditCheckpoints.tick(Date.now() + 3_600_000 * ++hoursAhead);
}

async function head(cp: TestControlPlane): Promise<number> {
  const r = await cp.gql(VERIFY);
  return r.data.verifyAudit.checkedEvents as number;
}

function checkpointLines(cp: TestControlPlane): { seq: number; hash: string; jws: string }[] {
  const file = join(cp.dataDir, 'audit', 'checkpoints.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

/** Delete the newest `n` events and move the head back to the event before them: the chain alone still verifies. */
async function truncate(cp: TestControlPlane, n: number): Promise<number> {
  const keep = (await head(cp)) - n;
  await cp.sql(`DELETE FROM audit_events WHERE seq > ${keep}`);
  await cp.sql(`UPDATE audit_chain_head SET seq = ${keep}, hash = (SELECT hash FROM audit_events WHERE seq = ${keep}) WHERE id = 1`);
  return keep;
}

function truncationDetected(dialect: DialectName) {
  return async (t: Test) => {
    const cp = await startTestControlPlane(t, dialect);
    await history(cp);
    await checkpoint(cp);
    const [cp1] = checkpointLines(cp);
    t.equal(cp1!.seq, await head(cp), 'the checkpoint names the head');
    await truncate(cp, 2);
    const r = await cp.gql(VERIFY);
    t.equal(r.data.verifyAudit.firstBad, null, 'the chain alone still verifies: the old check misses the truncation');
    t.same(r.data.verifyAudit.firstBadCheckpoint, { line: 1, seq: cp1!.seq, reason: 'EVENT_MISSING' }, 'the checkpoint names the deleted event');
    t.equal(r.data.verifyAudit.ok, false);
  };
}

t.test('on sqlite', async (t) => {
  t.test('an untouched log verifies against its checkpoints', async (t) => {
    const cp = await startTestControlPlane(t, 'sqlite');
    await history(cp);
    await checkpoint(cp);
    await history(cp, 'weather-b');
    await checkpoint(cp);
    const r = await cp.gql(VERIFY);
    t.same(r.data.verifyAudit, { ok: true, checkedEvents: await head(cp), firstBad: null, checkpoints: 2, firstBadCheckpoint: null });
    const lines = checkpointLines(cp);
    t.ok(lines[0]!.seq < lines[1]!.seq, 'checkpoints follow the head');
    t.equal(lines[0]!.jws.split('.').length, 3, 'each line carries a compact JWS');
  });

  t.test('deleting the newest events and moving the head back is detected', truncationDetected('sqlite'));

  t.test('a chain rewritten consistently from the first event is detected at the first checkpoint', async (t) => {
    const cp = await startTestControlPlane(t, 'sqlite');
    await history(cp);
    await checkpoint(cp);
    await history(cp, 'weather-b');
    await checkpoint(cp);
    // Whoever owns the database: change who did what, recompute every hash and the head.
    const db = new BetterSqlite3(join(cp.dataDir, 'control-plane.db'));
    try {
      const rows = db.prepare('SELECT * FROM audit_events ORDER BY seq').all() as AuditEventTable[];
      let prev = GENESIS_HASH;
      const update = db.prepare('UPDATE audit_events SET actor_name = ?, prev_hash = ?, hash = ? WHERE seq = ?');
      for (const row of rows) {
        const forged = { ...row, actor_name: 'someone-else', prev_hash: prev };
        const { hash: _old, ...fields } = forged;
        prev = auditEventHash(fields);
        update.run(forged.actor_name, forged.prev_hash, prev, row.seq);
      }
      db.prepare('UPDATE audit_chain_head SET hash = ? WHERE id = 1').run(prev);
    } finally {
      db.close();
    }
    const r = await cp.gql(VERIFY);
    t.equal(r.data.verifyAudit.firstBad, null, 'the rewritten chain verifies on its own: the old check misses it');
    t.same(r.data.verifyAudit.firstBadCheckpoint, { line: 1, seq: checkpointLines(cp)[0]!.seq, reason: 'HASH_MISMATCH' }, 'the first checkpoint disagrees');
    t.equal(r.data.verifyAudit.ok, false);
  });

  t.test('a checkpoint line signed with another key is refused', async (t) => {
    const cp = await startTestControlPlane(t, 'sqlite');
    await history(cp);
    await checkpoint(cp);
    const { privateKey } = generateKeyPairSync('ed25519');
    const forged = { seq: await head(cp), hash: '0'.repeat(64), at: new Date().toISOString(), keyId: 'forged' };
    const jws = await new CompactSign(Buffer.from(JSON.stringify(forged))).setProtectedHeader({ alg: 'EdDSA' }).sign(privateKey);
    appendFileSync(join(cp.dataDir, 'audit', 'checkpoints.jsonl'), `${JSON.stringify({ ...forged, jws })}\n`);
    const r = await cp.gql(VERIFY);
    t.same(r.data.verifyAudit.firstBadCheckpoint, { line: 2, seq: forged.seq, reason: 'BAD_SIGNATURE' });
  });

  t.test('a checkpoint after every N events, and one at shutdown naming the last event', async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-anchor-'));
    const cp = await startTestControlPlane(t, 'sqlite', { dataDir, auditCheckpointEvents: 3, auditCheckpointSeconds: 3600 });
    await cp.server.auditCheckpoints.tick();
    t.equal(checkpointLines(cp).length, 0, 'one event (the bootstrap token) is not enough');
    await history(cp);
    await cp.server.auditCheckpoints.tick();
    t.equal(checkpointLines(cp).length, 1, '3 or more new events make a checkpoint due');
    await cp.gql('mutation { updateModel(input: { name: "weather", description: "changed" }) { id } }');
    await cp.server.auditCheckpoints.tick();
    t.equal(checkpointLines(cp).length, 1, 'one new event is not enough');
    const last = await head(cp);
    await cp.close();
    const lines = checkpointLines(cp);
    t.equal(lines.length, 2, 'shutdown writes a last checkpoint');
    t.equal(lines.at(-1)!.seq, last, 'naming the newest event');
    t.equal(statSync(join(dataDir, 'keys', 'audit-checkpoint-ed25519.pem')).mode & 0o777, 0o600, 'the key file is created 0600');
  });

  t.test('a checkpoint key that group or others can read is refused at start', async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-anchor-'));
    const keyFile = join(dataDir, 'checkpoint.pem');
    writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
    chmodSync(keyFile, 0o644);
    await t.rejects(
      startControlPlane({ host: '127.0.0.1', port: 0, dataDir, logger: createLogger('test', 'silent'), auditCheckpointKeyFile: keyFile }),
      { code: 'SLUICE_E_SECRET_FILE_EXPOSED' },
    );
  });
});

t.test('on postgres: deleting the newest events and moving the head back is detected', truncationDetected('postgres'));
