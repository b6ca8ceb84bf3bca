// `sluice report` as a user runs it: the real CLI process against a control plane on loopback.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSluice } from '../helpers/cli.js';
import { ADMIN_TOKEN, startTestControlPlane } from '../control-plane/harness.js';
import { weatherInProduction } from '../control-plane/gate-fixtures.js';

t.test('sluice report prints a version\'s record as JSON or Markdown, to stdout or --out', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await weatherInProduction(cp);
  const base = ['report', '--control-plane', cp.url, '--token', ADMIN_TOKEN, '--model', 'weather'];
  const json = await runSluice([...base, '--version', '1', '--format', 'json']);
  t.equal(json.code, 0, json.stderr);
  const record = JSON.parse(json.stdout);
  t.equal(record.version.number, 1);
  t.same(record.version.aliases, ['production']);
  t.equal(record.audit.chain.ok, true);
  t.ok(record.audit.events.some((e: { action: string }) => e.action === 'alias.set'), 'the alias move that made it production');
  const file = join(t.testdir(), 'record.md');
  const md = await runSluice([...base, '--out', file]);
  t.equal(md.code, 0, md.stderr);
  t.equal(md.stdout, '', 'written to the file, not stdout');
  t.match(readFileSync(file, 'utf8'), /^# Model record: weather version 1/);
});

t.test('sluice report refuses an unknown model or version and a bad flag with their codes', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await weatherInProduction(cp);
  const base = ['report', '--control-plane', cp.url, '--token', ADMIN_TOKEN];
  const ghost = await runSluice([...base, '--model', 'ghost']);
  t.equal(ghost.code, 1);
  t.match(ghost.stderr, /SLUICE_E_MODEL_NOT_FOUND/);
  const nine = await runSluice([...base, '--model', 'weather', '--version', '9']);
  t.equal(nine.code, 1);
  t.match(nine.stderr, /SLUICE_E_MODEL_VERSION_NOT_FOUND/);
  const format = await runSluice([...base, '--model', 'weather', '--format', 'pdf']);
  t.not(format.code, 0);
  t.match(format.stderr, /SLUICE_E_CONFIG_INVALID/);
});
