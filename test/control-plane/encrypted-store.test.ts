// Encryption at rest end to end (issue 18): a control plane with a KEK stores ciphertext, a gateway
// downloads plaintext that matches the signed digest and serves it, and `sluice keys rotate-kek`
// re-wraps the keys so the control plane restarts under the new KEK.
import t from 'tap';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { LocalKek } from '../../control-plane/services/artifact-crypto.js';
import { controlPlaneSync } from '../../gateway/sync/control-plane-sync.js';
import { KEYS_ROTATE_KEK_COMMAND, runRotateKek } from '../../cli/keys-commands.js';
import { parseFlags } from '../../lib/flags.js';
import { ADMIN_TOKEN, exampleOnnx, modelWithVersion, startTestControlPlane } from './harness.js';
import { postJson, startTestGateway } from '../gateway/gateway-harness.js';
import { eventually } from '../helpers/wait.js';

const WEATHER_CALL = { inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: [0, 28.9, 14.4, 2.1, 200] }] };

t.test('an encrypted store serves a gateway, and survives a KEK rotation', async (t) => {
  // One t.testdir() call: tap empties the folder at each call.
  const scratch = t.testdir();
  const keys = join(scratch, 'keys');
  const kek = LocalKek.fromFile(join(keys, 'kek'));
  const first = await startTestControlPlane(t, 'sqlite', { kek });
  const dataDir = first.dataDir;
  const { sha256 } = await modelWithVersion(first);
  await first.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
  const onDisk = readFileSync(join(dataDir, 'artifacts', 'sha256', sha256.slice(0, 2), sha256));
  t.not(createHash('sha256').update(onDisk).digest('hex'), sha256, 'the stored file is not the plaintext');
  t.equal(onDisk.includes(readFileSync(exampleOnnx('weather')).subarray(0, 64)), false);

  const token = await first.token('gateway', 'gw');
  const gw = await startTestGateway(t, join(scratch, 'models'), { workerThreads: 1, drift: false, extensions: [controlPlaneSync({ url: first.url, token, name: 'gw', pollIntervalMs: 300 })] });
  const served = await eventually('the gateway serves the decrypted model', async () => {
    const r = await postJson(`${gw.url}/v2/models/weather/infer`, WEATHER_CALL);
    return r.status === 200 ? r.body : undefined;
  });
  t.equal(served.model_version, '1', 'the gateway verified the plaintext digest and signature');
  await first.close();

  const out = new PassThrough();
  const parsed = parseFlags(KEYS_ROTATE_KEK_COMMAND, ['--data', dataDir, '--kek-file', join(keys, 'kek'), '--new-kek-file', join(keys, 'kek-2')]);
  if (parsed.help) throw new Error('help');
  t.equal(await runRotateKek(parsed.values, out), 0);
  const rotated = JSON.parse(out.read().toString());
  t.equal(rotated.rewrapped, 1, "the model's data key re-wrapped");
  t.equal(rotated.signingKey, true, 'and the signing key');

  const second = await startTestControlPlane(t, 'sqlite', { dataDir, kek: LocalKek.fromFile(join(keys, 'kek-2')) });
  const res = await fetch(`${second.url}/artifacts/${sha256}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  t.equal(res.status, 200);
  t.equal(createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex'), sha256, 'downloads decrypt under the new KEK');
  const audit = await second.gql('{ auditEvents(first: 5, filter: { action: "kek.rotate" }) { edges { node { actorName after } } } }');
  t.equal(audit.data.auditEvents.edges.length, 1, 'the rotation is audited');
});
