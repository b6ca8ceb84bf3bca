import t from 'tap';
import { copyModels, startTestGateway } from '../gateway-harness.js';
import { freePort } from '../../helpers/net.js';

t.test('a second gateway on a port another one serves refuses to start instead of sharing it', async (t) => {
  const root = copyModels(t, ['weather']);
  const port = await freePort();
  const first = await startTestGateway(t, root, { port });
  t.equal(first.port, port);
  await t.rejects(startTestGateway(t, root, { port }), { code: 'SLUICE_E_CONFIG_INVALID' });
  const res = await fetch(`${first.url}/v2/health/ready`);
  t.equal(res.status, 200, 'the first gateway still serves');
});
