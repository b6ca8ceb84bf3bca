// Traces of inference calls exported to a real OTLP/HTTP receiver (node:http, protobuf decoded with
// the OTLP message definitions): a real gateway, real ORT workers on the weather model.
import t from 'tap';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { SluiceWsClient } from '../../../gateway/client/index.js';
import { Tracing } from '../../../gateway/tracing/tracing.js';
import { tracingOptions } from '../../../cli/tracing-flags.js';
import { copyModels, startTestGateway, weatherRows } from '../gateway-harness.js';
import { startOtlpReceiver, type ReceivedSpan } from '../../helpers/otlp-receiver.js';
import { freePort } from '../../helpers/net.js';

const body = (seed: number) => JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: Array.from(weatherRows(1, seed)) }] });
const hex = (n: number, seed: number) => Array.from({ length: n }, (_, i) => ((seed * 7 + i * 13) % 16).toString(16)).join('');

/** A weather repository whose batcher waits long enough (no adaptive wait) for concurrent calls to share a batch. */
function batchingModels(t: Parameters<typeof copyModels>[0]): string {
  const models = copyModels(t, ['weather']);
  const configPath = join(models, 'weather', 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  config.dynamic_batching = { max_queue_delay_us: 300_000, max_queue_size: 64, adaptive_delay: false };
  writeFileSync(configPath, JSON.stringify(config));
  return models;
}

function children(spans: ReceivedSpan[], parent: ReceivedSpan): string[] {
  return spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId).map((s) => s.name).sort();
}

t.test('a gateway tracing every call', async (t) => {
  const receiver = await startOtlpReceiver();
  t.teardown(() => receiver.close());
  const gw = await startTestGateway(t, batchingModels(t), { tracing: { endpoint: receiver.url, sampleRatio: 1, exportDelayMs: 50 } });
  const infer = `${gw.url}/v2/models/weather/infer`;
  const tracing = gw.inference.tracing!;

  t.test('concurrent calls batched into one worker run: each call its own span tree, the batch span linked to each', async (t) => {
    const parents = [1, 2, 3, 4].map((i) => ({ traceId: hex(32, i), spanId: hex(16, i + 10) }));
    const answers = await Promise.all(parents.map((p, i) => fetch(infer, {
      method: 'POST', body: body(i), headers: { traceparent: `00-${p.traceId}-${p.spanId}-01`, tracestate: `vendor=v${i}` },
    })));
    const returned = answers.map((a) => a.headers.get('traceparent') ?? '');
    for (const [i, a] of answers.entries()) {
      t.equal(a.status, 200);
      t.match(returned[i], new RegExp(`^00-${parents[i]!.traceId}-[0-9a-f]{16}-01$`), 'the caller\'s trace, sampled, with the gateway\'s span');
      t.not(returned[i]!.split('-')[2], parents[i]!.spanId);
      t.equal(a.headers.get('tracestate'), `vendor=v${i}`, 'tracestate handed back');
      await a.arrayBuffer();
    }
    await tracing.flush();
    await receiver.until((spans) => parents.every((p) => spans.filter((s) => s.traceId === p.traceId).length === 4) && spans.filter((s) => s.name === 'assemble').length >= 1);
    t.ok(receiver.requests.every((c) => c === 'application/x-protobuf'), 'exported as OTLP protobuf');
    const spans = receiver.spans;
    const calls = parents.map((p, i) => {
      const call = spans.find((s) => s.traceId === p.traceId && s.name === 'infer weather');
      t.ok(call, `call ${i} has its infer span`);
      t.equal(call!.parentSpanId, p.spanId, 'child of the caller\'s span');
      t.equal(call!.spanId, returned[i]!.split('-')[2], 'the span the answer named');
      t.equal(call!.kind, 2, 'SERVER');
      t.equal(call!.traceState, `vendor=v${i}`);
      t.match(call!.attributes, { 'sluice.model': 'weather', 'sluice.version': '1', 'sluice.outcome': 'success', 'sluice.batch.size': 4, 'sluice.batch.calls': 4 });
      t.same(children(spans, call!), ['decode', 'encode', 'queue']);
      for (const child of spans.filter((s) => s.parentSpanId === call!.spanId)) {
        t.ok(child.startNs >= call!.startNs && child.endNs <= call!.endNs, `${child.name} within the call`);
      }
      return call!;
    });
    const batches = spans.filter((s) => s.name === 'batch weather/1' && s.links.some((l) => calls.some((c) => c.spanId === l.spanId)));
    t.equal(batches.length, 1, 'one batch span for the four calls');
    const batch = batches[0]!;
    t.same(batch.links.map((l) => `${l.traceId}/${l.spanId}`).sort(), calls.map((c) => `${c.traceId}/${c.spanId}`).sort(), 'linked to every call in it');
    t.equal(batch.parentSpanId, '', 'the root of its own trace');
    t.match(batch.attributes, { 'sluice.model': 'weather', 'sluice.version': '1', 'sluice.batch.size': 4, 'sluice.batch.calls': 4, 'sluice.outcome': 'success' });
    t.same(children(spans, batch), ['assemble']);
    t.equal(batch.service, 'sluice-gateway');
  });

  t.test('a call without a traceparent, or with a malformed one, starts a new trace and is answered', async (t) => {
    const bad = '00-zz-not-a-trace-01';
    for (const headers of [{}, { traceparent: bad }, { traceparent: `00-${'0'.repeat(32)}-${hex(16, 1)}-01` }] as Record<string, string>[]) {
      const res = await fetch(infer, { method: 'POST', body: body(9), headers });
      t.equal(res.status, 200);
      const tp = res.headers.get('traceparent') ?? '';
      t.match(tp, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      t.not(tp.split('-')[1], '0'.repeat(32), 'an all-zero trace id is invalid and not taken');
      await res.arrayBuffer();
      await tracing.flush();
      await receiver.until((spans) => spans.some((s) => s.spanId === tp.split('-')[2]));
      const span = receiver.spans.find((s) => s.spanId === tp.split('-')[2]);
      t.equal(span!.parentSpanId, '', 'a root span');
    }
  });

  t.test('a refused call is answered with its code and its span carries the outcome', async (t) => {
    const res = await fetch(infer, { method: 'POST', body: '{"inputs":[{"name":"features","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}' });
    t.equal(res.status, 400);
    const code = ((await res.json()) as { code: string }).code;
    t.match(code, /^SLUICE_E_/);
    const tp = res.headers.get('traceparent') ?? '';
    await tracing.flush();
    await receiver.until((spans) => spans.some((s) => s.spanId === tp.split('-')[2]));
    const span = receiver.spans.find((s) => s.spanId === tp.split('-')[2]);
    t.equal(span?.attributes['sluice.outcome'], code);
    t.equal(span?.status.code, 2, 'ERROR');
  });

  t.test('a WebSocket frame carries traceparent and tracestate as top-level fields, and so does its answer', async (t) => {
    const client = await SluiceWsClient.connect(gw.url);
    t.teardown(() => client.close());
    const traceId = hex(32, 42);
    const r = await client.infer('weather', { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: weatherRows(1, 3) }], traceparent: `00-${traceId}-${hex(16, 43)}-01`, tracestate: 'ws=1' });
    t.match(r.traceparent, new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    t.equal(r.tracestate, 'ws=1');
    t.equal(r.model_name, 'weather');
    await tracing.flush();
    await receiver.until((spans) => spans.filter((s) => s.traceId === traceId).length === 4);
    const span = receiver.spans.find((s) => s.spanId === r.traceparent!.split('-')[2]);
    t.equal(span?.parentSpanId, hex(16, 43));
    t.same(children(receiver.spans, span!), ['decode', 'encode', 'queue']);
  });
});

t.test('sample ratio 0: nothing of a new trace is exported, a sampled caller\'s trace still is', async (t) => {
  const receiver = await startOtlpReceiver();
  t.teardown(() => receiver.close());
  const gw = await startTestGateway(t, copyModels(t, ['weather']), { tracing: { endpoint: receiver.url, sampleRatio: 0, exportDelayMs: 50 } });
  const infer = `${gw.url}/v2/models/weather/infer`;
  const answers = await Promise.all([1, 2, 3, 4, 5].map((i) => fetch(infer, { method: 'POST', body: body(i) })));
  for (const a of answers) {
    t.equal(a.status, 200);
    t.match(a.headers.get('traceparent'), /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/, 'answered with an unsampled trace');
    await a.arrayBuffer();
  }
  await gw.inference.tracing!.flush();
  t.same(receiver.spans, [], 'nothing exported');
  t.same(receiver.requests, [], 'not even an empty export');
  const traceId = hex(32, 5);
  const sampled = await fetch(infer, { method: 'POST', body: body(6), headers: { traceparent: `00-${traceId}-${hex(16, 6)}-01` } });
  t.equal(sampled.status, 200);
  await sampled.arrayBuffer();
  await gw.inference.tracing!.flush();
  await receiver.until((spans) => spans.some((s) => s.name === 'batch weather/1' && s.links.some((l) => l.traceId === traceId)) && spans.some((s) => s.traceId === traceId && s.name === 'infer weather'));
  t.ok(receiver.spans.some((s) => s.traceId === traceId && s.name === 'infer weather'), 'parent-based: the caller sampled it');
  t.ok(receiver.spans.some((s) => s.name === 'batch weather/1' && s.links.some((l) => l.traceId === traceId)), 'and its batch');
  const unsampled = await fetch(infer, { method: 'POST', body: body(7), headers: { traceparent: `00-${hex(32, 8)}-${hex(16, 8)}-00` } });
  t.match(unsampled.headers.get('traceparent'), new RegExp(`^00-${hex(32, 8)}-[0-9a-f]{16}-00$`), 'an unsampled caller stays unsampled');
  await unsampled.arrayBuffer();
});

t.test('an exporter endpoint that is down leaves calls unaffected', async (t) => {
  const port = await freePort();
  const gw = await startTestGateway(t, copyModels(t, ['weather']), { tracing: { endpoint: `http://127.0.0.1:${port}/v1/traces`, sampleRatio: 1, exportDelayMs: 10 } });
  const infer = `${gw.url}/v2/models/weather/infer`;
  for (let round = 0; round < 3; round++) {
    const answers = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((i) => fetch(infer, { method: 'POST', body: body(i) })));
    for (const a of answers) {
      t.equal(a.status, 200);
      t.equal(((await a.json()) as { model_name: string }).model_name, 'weather');
    }
    await gw.inference.tracing!.flush().catch(() => undefined);
  }
  const ready = await fetch(`${gw.url}/v2/health/ready`);
  t.equal(ready.status, 200, 'still ready');
});

t.test('bad tracing settings are refused with SLUICE_E_CONFIG_INVALID', async (t) => {
  for (const o of [{ endpoint: 'http://127.0.0.1:4318/v1/traces', sampleRatio: 1.5 }, { endpoint: 'http://127.0.0.1:4318/v1/traces', sampleRatio: Number.NaN }, { endpoint: 'ftp://x/v1/traces', sampleRatio: 1 }, { endpoint: 'not a url', sampleRatio: 1 }]) {
    t.throws(() => new Tracing(o), { code: 'SLUICE_E_CONFIG_INVALID' }, JSON.stringify(o));
  }
  for (const ratio of ['', 'abc', '-0.1', '2']) {
    t.throws(() => tracingOptions({ 'otlp-endpoint': 'http://127.0.0.1:4318/v1/traces', 'trace-sample-ratio': ratio }), { code: 'SLUICE_E_CONFIG_INVALID' }, `--trace-sample-ratio ${ratio}`);
  }
  t.equal(tracingOptions({ 'trace-sample-ratio': '0.01' }), undefined, 'off without --otlp-endpoint');
  t.same(tracingOptions({ 'otlp-endpoint': 'http://127.0.0.1:4318/v1/traces', 'trace-sample-ratio': '0.25' }), { endpoint: 'http://127.0.0.1:4318/v1/traces', sampleRatio: 0.25 });
});
