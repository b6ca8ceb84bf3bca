// The short fuzz run over the gateway's parsers (bench/fuzz has the long one): a few thousand
// generated inputs per surface in-process, every 30th also sent to a real gateway on 127.0.0.1.
import t from 'tap';
import { imageSeeds } from '../../bench/fuzz/images.js';
import { imageSurface, oipBinarySurface, oipJsonSurface, wsFrameSurface } from '../../bench/fuzz/surfaces.js';
import { startFuzzGateway, textDirectionPlan } from '../../bench/fuzz/targets.js';
import { decodeInferenceRequest } from '../../gateway/server/oip-codec.js';
import { fuzzSurface, SEED } from './fuzz-harness.js';

t.comment(`fuzz seed ${SEED} (SLUICE_FUZZ_SEED to change)`);
const gateway = await startFuzzGateway();
t.teardown(() => gateway.close());

t.test('OIP JSON requests: every input is decoded or refused with a 4xx code', (t) => fuzzSurface(t, oipJsonSurface(gateway.url), { runs: 3000, networkEvery: 30 }));

t.test('binary extension and raw binary requests: decoded or refused with a 4xx code', (t) => fuzzSurface(t, oipBinarySurface(gateway.url), { runs: 3000, networkEvery: 30 }));

t.test('WebSocket frames: parsed, refused with a coded error frame, or closed for framing', async (t) => {
  const surface = wsFrameSurface(gateway.url);
  t.teardown(() => surface.close());
  await fuzzSurface(t, surface, { runs: 3000, networkEvery: 30 });
});

t.test('image inputs: corrupt, truncated and hostile-size images are refused with a 4xx code', async (t) => {
  await fuzzSurface(t, imageSurface(textDirectionPlan(), await imageSeeds(), gateway.url), { runs: 2000, networkEvery: 30, concurrency: 4 });
});

t.test('JSON data nested 200,000 deep is refused as bad data, not a stack overflow', (t) => {
  const n = 200_000;
  const body = `{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":${'['.repeat(n)}1${']'.repeat(n)}}]}`;
  t.throws(() => decodeInferenceRequest(body), { code: 'SLUICE_E_PROTOCOL_BAD_DATA' });
  t.end();
});
