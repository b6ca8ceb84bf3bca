import t, { type Test } from 'tap';
import { systemContext } from '../../../control-plane/services/actor.js';
import { ControlPlaneServices } from '../../../control-plane/services/control-plane.js';

async function open(t: Test): Promise<ControlPlaneServices> {
  const services = await ControlPlaneServices.open({ dataDir: t.testdir(), maxArtifactBytes: 1 << 20 });
  t.teardown(() => services.close());
  return services;
}

t.test('gateways asking at once between two changes share one desired-state computation', async (t) => {
  const services = await open(t);
  const [a, b] = await Promise.all([services.sharedDesiredState(), services.sharedDesiredState()]);
  t.equal(a, b, 'the same computed state, not two');
  t.equal(await services.sharedDesiredState(), a, 'a later caller before any change gets it too');
  t.not(await services.sharedDesiredState({ region: 'eu', labels: {} }), a, 'gateways of another region have their own');
});

t.test('a change makes the next shared desired state a fresh one that shows it', async (t) => {
  const services = await open(t);
  const before = await services.sharedDesiredState();
  const { token } = await services.tokens.create(systemContext('test'), { name: 'caller', role: 'viewer', scopes: ['infer:*'] });
  const after = await services.sharedDesiredState();
  t.not(after.revision, before.revision);
  t.ok(after.access.tokens.some((x) => x.name === token.name), 'the new token is in the state pushed to gateways');
});
