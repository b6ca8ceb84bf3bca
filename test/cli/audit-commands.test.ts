import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CLI } from '../helpers/paths.js';
import { modelWithVersion, startTestControlPlane } from '../control-plane/harness.js';

const run = promisify(execFile);

/** `sluice audit verify` on a data folder: exit code and its JSON answer. */
async function verify(data: string): Promise<{ code: number; result: any }> {
  try {
    const { stdout } = await run(process.execPath, [CLI, 'audit', 'verify', '--data', data, '--log-level', 'silent']);
    return { code: 0, result: JSON.parse(stdout) };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, result: e.stdout ? JSON.parse(e.stdout) : e.stderr };
  }
}

t.test('sluice audit verify checks the database against the checkpoint file the control plane wrote at shutdown', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await modelWithVersion(cp);
  await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
  await cp.close();

  const untouched = await verify(cp.dataDir);
  t.equal(untouched.code, 0, 'an untouched log verifies');
  t.same(untouched.result, { ok: true, checkedEvents: 4, firstBad: null, checkpoints: 1, firstBadCheckpoint: null });

  await cp.sql('DELETE FROM audit_events WHERE seq > 2');
  await cp.sql('UPDATE audit_chain_head SET seq = 2, hash = (SELECT hash FROM audit_events WHERE seq = 2) WHERE id = 1');
  const truncated = await verify(cp.dataDir);
  t.equal(truncated.code, 1, 'a truncated log fails');
  t.equal(truncated.result.firstBad, null, 'its chain alone verifies');
  t.same(truncated.result.firstBadCheckpoint, { line: 1, seq: 4, at: truncated.result.firstBadCheckpoint.at, reason: 'event-missing' });
});

t.test('sluice audit verify without a checkpoint file says so', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await cp.close();
  const { rmSync } = await import('node:fs');
  rmSync(`${cp.dataDir}/audit`, { recursive: true, force: true });
  const r = await verify(cp.dataDir);
  t.equal(r.code, 1);
  t.match(r.result, /SLUICE_E_AUDIT_CHECKPOINT_FILE/);
});
