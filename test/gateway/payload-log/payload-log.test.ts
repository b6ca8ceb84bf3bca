// The per-model payload log (issue 18): off by default; sampled calls and answers as JSON lines,
// personal inputs and parameters replaced by a keyed HMAC before anything is written (the raw
// values are in neither the folder nor the process log), a 0600 key, drop-and-count when the queue
// is full, retention by age and size.
import t from 'tap';
import { createHmac } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSluice } from '../../helpers/cli.js';
import { eventually } from '../../helpers/wait.js';
import { getJson, postJson, startTestGateway, writeTypesModel } from '../gateway-harness.js';
import { payloadLog } from '../../../gateway/payload-log/payload-log.js';

const SECRET_ID = 'cust-8c1f-4242-secret';
const SECRET_LONG = 424242424242;

function call(customer = SECRET_ID, long = SECRET_LONG) {
  return {
    id: 'req-1',
    parameters: { customer_id: customer, priority: 1 },
    inputs: [
      { name: 'half', shape: [1, 3], datatype: 'FP16', data: [1, 2, 3] },
      { name: 'long', shape: [1, 2], datatype: 'INT64', data: [long, 7] },
    ],
  };
}

/** Every file under `dir`, recursively, as text. */
function allText(dir: string): string {
  let out = '';
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out += e.isDirectory() ? allText(p) : readFileSync(p, 'utf8');
  }
  return out;
}

function entries(dir: string): Record<string, any>[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort().flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)));
}

t.test('personal fields reach neither the log folder nor the process log; the HMAC joins; off by default', async (t) => {
  const root = join(t.testdir(), 'models');
  const logDir = join(t.testdir(), 'payload-log');
  writeTypesModel(root, { payload_log: { sample: 1, personal: ['long', 'customer_id'] } });
  writeTypesModel(root, {}, 'quiet');
  const gw = await startSluice(['gateway', '--models', root, '--port', '0', '--payload-log-dir', logDir, '--log-level', 'debug', '--log-format', 'json']);
  t.teardown(() => {
    if (gw.proc.exitCode === null) gw.proc.kill('SIGKILL');
  });
  const url = gw.urls[0]!;
  for (const model of ['types', 'quiet']) {
    const r = await postJson(`${url}/v2/models/${model}/infer`, call());
    t.equal(r.status, 200);
  }
  const bad = await postJson(`${url}/v2/models/types/infer`, { ...call(), inputs: [call().inputs[1]] });
  t.equal(bad.status, 400);
  const logged = await eventually('both calls of types are logged', async () => {
    const e = entries(join(logDir, 'types'));
    return e.length >= 2 ? e : undefined;
  });
  t.equal(existsSync(join(logDir, 'quiet')), false, 'a model without payload_log is not logged');

  const key = Buffer.from(readFileSync(join(logDir, '.payload-log.key'), 'utf8').trim(), 'base64');
  t.equal(statSync(join(logDir, '.payload-log.key')).mode & 0o777, 0o600, 'the key file is created 0600');
  const hmac = (v: string) => `hmac:${createHmac('sha256', key).update(v).digest('hex').slice(0, 32)}`;
  const ok = logged.find((e) => e.error === undefined)!;
  t.match(ok, { model: 'types', version: '1', id: 'req-1', parameters: { customer_id: hmac(SECRET_ID), priority: 1 } });
  t.same(ok.inputs.find((i: any) => i.name === 'long').data, [hmac(String(SECRET_LONG)), hmac('7')], 'a personal input is logged as HMACs');
  t.same(ok.inputs.find((i: any) => i.name === 'half').shape, [1, 3], 'other inputs as they came');
  t.same(ok.outputs.find((o: any) => o.name === 'long_plus_one').data, [String(SECRET_LONG + 1), '8'], 'outputs are logged (not declared personal)');
  t.match(logged.find((e) => e.error !== undefined), { error: 'SLUICE_E_PROTOCOL_BAD_INPUT' }, 'a refused call is logged with its code');

  t.equal(await gw.stop('SIGTERM'), 0);
  const everything = allText(logDir) + gw.output();
  t.notOk(everything.includes(SECRET_ID), 'the raw customer id is nowhere');
  t.notOk(everything.includes(String(SECRET_LONG)), 'the raw personal input is nowhere');
});

t.test('a payload log key readable by others is refused at start', async (t) => {
  const dir = t.testdir();
  const root = join(dir, 'models');
  writeTypesModel(root, { payload_log: { sample: 1 } });
  const keyFile = join(dir, 'key');
  writeFileSync(keyFile, Buffer.alloc(32, 7).toString('base64'));
  chmodSync(keyFile, 0o644);
  await t.rejects(startSluice(['gateway', '--models', root, '--port', '0', '--payload-log-dir', join(dir, 'log'), '--payload-log-key', keyFile]), /SLUICE_E_PAYLOAD_LOG_KEY/);
});

t.test('a full queue drops and counts what it cannot hold; dropping never fails a call', async (t) => {
  const dir = t.testdir(); // once: a second call would empty the folder
  const root = join(dir, 'models');
  writeTypesModel(root, { payload_log: { sample: 1 } }, 'crowded');
  // No flush during the test (an hour apart): exactly the 50 the queue holds are kept, whatever the machine's speed.
  const gw = await startTestGateway(t, root, { workerThreads: 1, extensions: [payloadLog({ dir: join(dir, 'payload-log'), queueLimit: 50, flushMs: 3_600_000 })] });
  const answers = await Promise.all(Array.from({ length: 80 }, (_, i) => postJson(`${gw.url}/v2/models/crowded/infer`, call(`c-${i}`, i))));
  t.same([...new Set(answers.map((a) => a.status))], [200], 'dropping an entry never fails a call');
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  const dropped = Number(/sluice_payload_log_dropped_total\{model="crowded"\} (\d+)/.exec(metrics)?.[1] ?? 0);
  t.equal(dropped, 30, 'the 30 entries past the queue limit of 50 are dropped and counted');
  await gw.close();
});

t.test('retention deletes entries past the size and age limits', async (t) => {
  const root = join(t.testdir(), 'models');
  const logDir = join(t.testdir(), 'payload-log');
  writeTypesModel(root, { payload_log: { sample: 1, max_bytes: 4096, max_age_seconds: 1 } });
  const gw = await startTestGateway(t, root, { workerThreads: 1, extensions: [payloadLog({ dir: logDir, flushMs: 20, retentionMs: 100 })] });

  // Size: 200 calls of ~400 bytes each; the folder stays near 4 KiB.
  for (let i = 0; i < 20; i++) await Promise.all(Array.from({ length: 10 }, (_, j) => postJson(`${gw.url}/v2/models/types/infer`, call(`s-${i}-${j}`, j))));
  const dir = join(logDir, 'types');
  const written = await eventually('the 200 entries are written', async () => {
    const m = /sluice_payload_log_entries_total\{model="types"\} (\d+)/.exec(await (await fetch(`${gw.url}/metrics`)).text());
    return Number(m?.[1] ?? 0) >= 200 ? Number(m![1]) : undefined;
  });
  t.ok(written * 300 > 4096, 'far more was written than max_bytes');
  await eventually('retention brings the folder under max_bytes', async () => {
    // Retention may delete a file between the listing and its stat.
    const size = readdirSync(dir).reduce((a, n) => a + (statSync(join(dir, n), { throwIfNoEntry: false })?.size ?? 0), 0);
    return size <= 4096 ? true : undefined;
  });
  // Age: with no new calls, every entry passes its second and is deleted.
  await eventually('entries older than max_age_seconds are deleted', async () => (readdirSync(dir).length === 0 ? true : undefined), 10_000);
  t.pass('retention by size and by age');
  t.equal((await getJson(`${gw.url}/v2/health/ready`)).status, 200);
  await gw.close(); // the writer stops before tap removes the folder
});
