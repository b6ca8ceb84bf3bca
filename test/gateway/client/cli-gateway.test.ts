// The client against `sluice gateway` as users start it: /v2/ws and image inputs are on by default.
import t from 'tap';
import { SluiceWsClient } from '../../../gateway/client/index.js';
import { startSluice } from '../../helpers/cli.js';
import { exampleModels } from '../../helpers/paths.js';
import { rotated180, textLine } from '../preprocess/images.js';

t.test('sluice gateway serves /v2/ws and raw image bodies out of the box', async (t) => {
  const gw = await startSluice(['gateway', '--models', exampleModels(), '--port', '0']);
  t.teardown(() => gw.stop());
  const url = gw.urls[0]!;
  const client = await SluiceWsClient.connect(url);
  t.teardown(() => client.close());
  const upright = await textLine('Out of the box');
  const r = await client.infer('text-direction', { inputs: [{ name: 'image', datatype: 'BYTES', shape: [2], data: [upright, await rotated180(upright)] }] }, { binary: true });
  const p = r.outputs[0]!.data as Float32Array;
  t.same([p[0]! > p[1]!, p[2]! > p[3]!], [true, false], 'upright is 0, rotated is 180');
  const res = await fetch(`${url}/v2/models/text-direction/infer`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(upright) });
  t.equal(res.status, 200);
  t.equal(await gw.stop(), 0, 'stops cleanly with a WebSocket open');
});
