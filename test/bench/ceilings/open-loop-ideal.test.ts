// The ideal open-loop server (bench/ceilings/open-loop-ideal.ts) on real ORT sessions and a real
// uws-fixed server with the load generator: one short round on weather.
import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const SCRIPT = join(ROOT, 'dist', 'bench', 'ceilings', 'open-loop-ideal.js');
const run = (args: string[]) => promisify(execFile)(process.execPath, [SCRIPT, ...args], { timeout: 120_000 });

t.test('answers every call of the schedule, alone and beside the transport, and states the bound from its own compute', async (t) => {
  const { stdout } = await run(['--workload', 'weather-json', '--rate', '400', '--rounds', '1', '--duration-ms', '500', '--instances', '2']);
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
  t.equal(result.maxQueueDelayMs, 0.25, "weather's max_queue_delay_us, read from its config");
  t.equal(result.instances, 2);
  for (const label of ['alone', 'underTransport']) {
    const s = result[label];
    t.ok(s.p50 > 0 && s.p99 >= s.p50, `${label}: p99 ${s.p99} ≥ p50 ${s.p50} > 0`);
    t.ok(s.meanBatch >= 1 && s.meanBatch <= 16, `${label}: ${s.meanBatch} rows per batch`);
    t.ok(s.computeMs > 0, `${label}: compute ${s.computeMs} ms per batch`);
    t.ok(Math.abs(s.boundMs - (0.25 + 2 * s.computeMs)) < 1e-9, `${label}: bound = max_queue_delay + 2 × compute`);
  }
  t.match(stdout, /beside the transport \((\d+)\/\1 calls to uws-fixed answered\)/, 'the transport served every call it was sent');
});

t.test('pins uws-fixed and the load generator where the bench places them', async (t) => {
  // CPU 0 exists on every machine: the flags' path is what is checked, not a placement's speed.
  const { stdout } = await run(['--workload', 'weather-json', '--rate', '300', '--rounds', '1', '--duration-ms', '300', '--instances', '1', '--server-cpus', '0', '--client-cpus', '0']);
  t.match(stdout, /beside the transport \((\d+)\/\1 calls to uws-fixed answered\)/, 'the pinned generator sent, and the pinned uws-fixed answered, every call');
});

t.test('refuses bad flags with SLUICE_E_CONFIG_INVALID naming the flag, before starting anything', async (t) => {
  for (const [flag, args] of [['rate', []], ['rate', ['--rate=0']], ['max-batch', ['--rate', '10', '--max-batch', '0']], ['rounds', ['--rate', '10', '--rounds', '1.5']], ['workload', ['--rate', '10', '--workload', 'weather']]] as const) {
    const err = await run([...args]).then(() => undefined, (e: { code: number; stderr: string }) => e);
    t.ok(err !== undefined && err.code !== 0, `${args.join(' ') || 'no --rate'}: exits non-zero`);
    t.match(err!.stderr, /SLUICE_E_CONFIG_INVALID/);
    t.match(err!.stderr, new RegExp(`flag: '${flag}'`));
  }
});
