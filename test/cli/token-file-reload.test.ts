import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSluice } from '../helpers/cli.js';
import { exampleModels } from '../helpers/paths.js';
import { eventually } from '../helpers/wait.js';

const FIRST = 'tok-first-0123456789abcdef';
const SECOND = 'tok-second-0123456789abcde';

async function status(url: string, token: string): Promise<number> {
  const res = await fetch(`${url}/v2/models/weather`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

t.test('sluice gateway re-reads --token-file on SIGHUP; a bad file leaves the old tokens in force', async (t) => {
  const file = join(t.testdir({}), 'tokens');
  writeFileSync(file, `${FIRST} infer:*\n`);
  const gw = await startSluice(['gateway', '--models', exampleModels(), '--port', '0', '--token-file', file, '--log-level', 'info', '--log-format', 'json']);
  t.teardown(() => gw.stop());
  const url = gw.urls[0]!;
  t.equal(await status(url, FIRST), 200);
  t.equal(await status(url, SECOND), 401);

  writeFileSync(file, `${SECOND} infer:*\n`);
  gw.proc.kill('SIGHUP');
  await eventually('the second token to be accepted', async () => ((await status(url, SECOND)) === 200 ? true : undefined), 10_000);
  t.equal(await status(url, FIRST), 401, 'a line removed is a token revoked');

  writeFileSync(file, 'this line has no scopes\n');
  gw.proc.kill('SIGHUP');
  await eventually('the refused reload to be logged', async () => (/"code":"SLUICE_E_GATEWAY_TOKEN_FILE"/.test(gw.output()) ? true : undefined), 10_000);
  t.equal(await status(url, SECOND), 200, 'the old tokens stay in force');
  t.equal(await gw.stop(), 0, 'and the gateway is still up to shut down cleanly');
});
