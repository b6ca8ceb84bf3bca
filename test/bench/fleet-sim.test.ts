// The fleet simulation (bench/cluster/fleet-sim.ts) as a process, with a small fleet against a real
// control-plane process on SQLite and on a real PostgreSQL: behaviour only, no timing.
import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/paths.js';
import type { StoreResult } from '../../bench/cluster/fleet-sim.js';

const GATEWAYS = 20;
const MOVES = 2;

t.test('every simulated gateway registers, heartbeats and is pushed every alias move, on both stores', async (t) => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(ROOT, 'dist', 'bench', 'cluster', 'fleet-sim.js'), '--gateways', String(GATEWAYS), '--moves', String(MOVES), '--steady-seconds', '2', '--ramp', 'none', '--json', '--out', 'none'],
    { maxBuffer: 16 * 1024 * 1024, timeout: 240_000 },
  );
  const { results } = JSON.parse(stdout) as { results: StoreResult[] };
  t.same(results.map((r) => r.store), ['sqlite', 'postgres']);
  for (const r of results) {
    t.equal(r.setup.registered, GATEWAYS, `${r.store}: every gateway registered`);
    t.equal(r.setup.subscribed, GATEWAYS, `${r.store}: every subscription was pushed the first state`);
    t.equal(r.listedWithHeartbeat, GATEWAYS, `${r.store}: the control plane lists every gateway with a heartbeat`);
    t.equal(r.moves.reachedAll, MOVES, `${r.store}: every move reached every gateway`);
    t.equal(r.receivedEveryMove, GATEWAYS, `${r.store}: each gateway was pushed each move`);
    t.same(r.errorCodes, {}, `${r.store}: no sync call failed`);
  }
});
