// `sluice model placement` (cli/fleet-commands.ts) against a real control plane on loopback.
import t from 'tap';
import { PassThrough } from 'node:stream';
import { MODEL_PLACEMENT_COMMAND, runModelPlacement } from '../../cli/fleet-commands.js';
import { parseFlags } from '../../lib/flags.js';
import { ADMIN_TOKEN, startTestControlPlane } from '../control-plane/harness.js';

function flags(argv: string[]) {
  const parsed = parseFlags(MODEL_PLACEMENT_COMMAND, argv);
  if (parsed.help) throw new Error('unexpected --help');
  return parsed.values;
}

async function run(argv: string[]): Promise<unknown> {
  const out = new PassThrough();
  await runModelPlacement(flags(argv), out);
  return JSON.parse(out.read().toString());
}

t.test('sluice model placement shows, sets and lifts a placement', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
  const base = ['--control-plane', cp.url, '--model', 'weather'];
  const operator = await cp.token('operator');
  t.same(await run([...base, '--token', ADMIN_TOKEN]), { model: 'weather', placement: null }, 'a new model is placed everywhere');
  t.same(await run([...base, '--token', operator, '--selector', 'tier=edge, pool!=cpu']), { model: 'weather', placement: 'pool!=cpu,tier=edge' }, 'it prints the canonical selector');
  t.same(await run([...base, '--token', await cp.token('viewer')]), { model: 'weather', placement: 'pool!=cpu,tier=edge' }, 'a viewer reads it');
  t.same(await run([...base, '--token', operator, '--everywhere']), { model: 'weather', placement: null });
});

t.test('sluice model placement refuses bad selectors and contradictory flags with codes', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
  const base = ['--control-plane', cp.url, '--model', 'weather'];
  await t.rejects(run([...base, '--token', ADMIN_TOKEN, '--selector', 'pool']), { code: 'SLUICE_E_PLACEMENT_INVALID' });
  await t.rejects(run([...base, '--token', ADMIN_TOKEN, '--selector', 'pool=gpu', '--everywhere']), { code: 'SLUICE_E_CONFIG_INVALID' });
  await t.rejects(run([...base, '--token', await cp.token('developer'), '--selector', 'pool=gpu']), { code: 'SLUICE_E_AUTH_FORBIDDEN' });
  await t.rejects(run(['--control-plane', cp.url, '--model', 'nope', '--token', ADMIN_TOKEN]), { code: 'SLUICE_E_STORE_NOT_FOUND' });
});
