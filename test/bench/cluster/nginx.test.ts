// What bench/cluster/nginx.ts reads from nginx's access log (the `sluice_test` format it writes):
// the tries a given gateway answered, which the rolling-restart scenario waits for.
import t from 'tap';
import { triesAnswered } from '../../../bench/cluster/nginx.js';

const LOG = [
  '200 200 127.0.0.1:8001 "POST /v2/models/weather/infer HTTP/1.1"',
  '200 503, 200 127.0.0.1:8002, 127.0.0.1:8001 "POST /v2/models/weather/infer HTTP/1.1"',
  '200 502, 200 127.0.0.1:8003, 127.0.0.1:8002 "POST /v2/models/weather/infer HTTP/1.1"',
  '502 502 sluice_gateways "POST /v2/models/weather/infer HTTP/1.1"',
  '503 503, 503, 503 127.0.0.1:8001, 127.0.0.1:8002, 127.0.0.1:8003 "POST /v2/models/weather/infer HTTP/1.1"',
  '',
].join('\n');

t.test('a try counts for the gateway whose address stands at the same place as its status', async (t) => {
  t.equal(triesAnswered(LOG, '127.0.0.1:8001'), 2, 'answered alone, and after another gateway refused');
  t.equal(triesAnswered(LOG, '127.0.0.1:8002'), 1, 'its 503s are not answers; its 200 after a broken try is');
  t.equal(triesAnswered(LOG, '127.0.0.1:8003'), 0, 'a gateway that only failed answered nothing');
  t.equal(triesAnswered(LOG, '127.0.0.1:8003', 503), 1, 'other statuses on request');
});

t.test('nginx answering without any gateway (no live upstreams) counts for none', async (t) => {
  t.equal(triesAnswered('502 502 sluice_gateways "POST /v2/models/weather/infer HTTP/1.1"\n', 'sluice_gateways'), 0);
  t.equal(triesAnswered('', '127.0.0.1:8001'), 0);
});
