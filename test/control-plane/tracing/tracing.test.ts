// The control plane's spans as a real OTLP/HTTP receiver decodes them (protobuf on the wire):
// mutations under the caller's traceparent, rollout steps and the pushes they cause, a training
// job's dispatch, run on the local executor and finish, sampling at ratio 0, and a collector that
// is down.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createLogger } from '../../../lib/log.js';
import { TrainingRunner } from '../../../control-plane/runner/runner.js';
import { LocalExecutor } from '../../../control-plane/runner/executors/local.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../../helpers/otlp-receiver.js';
import { freePort } from '../../helpers/net.js';
import { runSluice } from '../../helpers/cli.js';
import { startControlPlane } from '../../../control-plane/index.js';
import { exampleOnnx, modelWithVersion, startTestControlPlane, type TestControlPlane } from '../harness.js';
import { subscribe } from '../sse.js';
import { jobReaches, runnerTokenFile, submit, tempDir, weatherInProduction, writeDataset, writeTrainer } from '../runner/training-harness.js';

const SERVER = 2;

function traceparent(): { header: string; traceId: string; spanId: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { header: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

function tracedControlPlane(t: { teardown(fn: () => unknown): void }, receiver: OtlpReceiver, sampleRatio = 1, options = {}): Promise<TestControlPlane> {
  return startTestControlPlane(t, 'sqlite', { tracing: { endpoint: receiver.url, sampleRatio, exportDelayMs: 50 }, ...options });
}

function one(spans: ReceivedSpan[], what: string, match: (s: ReceivedSpan) => boolean): ReceivedSpan {
  const found = spans.filter(match);
  if (found.length !== 1) throw new Error(`${found.length} spans are ${what}: ${spans.map((s) => s.name).join(', ')}`);
  return found[0]!;
}

t.test('a mutation is a SERVER span under the caller\'s traceparent, with its field, token and outcome', async (t) => {
  const receiver = await startOtlpReceiver();
  t.teardown(() => receiver.close());
  const cp = await tracedControlPlane(t, receiver);
  t.teardown(() => cp.close());
  const tokenId = (await cp.gql('{ me { tokenId } }')).data.me.tokenId as string;

  const query = traceparent();
  t.notOk((await cp.gql('{ models { edges { node { name } } } }', {}, undefined, { traceparent: query.header })).errors);
  const ok = traceparent();
  const created = await cp.gql('mutation CreateWeather { createModel(input: { name: "weather" }) { id } }', {}, undefined, { traceparent: ok.header });
  t.notOk(created.errors);
  const bad = traceparent();
  const refused = await cp.gql('mutation { setAlias(input: { model: "nope", alias: "production", version: 1 }) { name } }', {}, undefined, { traceparent: bad.header });
  const code = refused.errors?.[0]?.extensions?.code;
  t.match(code, /^SLUICE_E_/, 'the mutation is refused with a code');

  await receiver.until((spans) => spans.some((s) => s.traceId === bad.traceId));
  const span = one(receiver.spans, 'the createModel mutation', (s) => s.traceId === ok.traceId);
  t.equal(span.name, 'mutation CreateWeather');
  t.equal(span.kind, SERVER);
  t.equal(span.parentSpanId, ok.spanId, 'a child of the caller\'s span');
  t.equal(span.service, 'sluice-control-plane');
  t.match(span.attributes, { 'graphql.operation.type': 'mutation', 'graphql.operation.name': 'CreateWeather', 'sluice.graphql.field': 'createModel', 'sluice.actor.id': tokenId, 'sluice.actor.role': 'admin', 'sluice.outcome': 'success' });
  t.equal(span.status.code, 0, 'status unset on success');

  const failed = one(receiver.spans, 'the refused setAlias', (s) => s.traceId === bad.traceId);
  t.equal(failed.name, 'mutation setAlias', 'an anonymous mutation is named after its field');
  t.equal(failed.attributes['sluice.outcome'], code, 'the outcome is the answer\'s SLUICE_E_* code');
  t.equal(failed.status.code, 2, 'status ERROR');
  t.notOk(receiver.spans.some((s) => s.traceId === query.traceId), 'queries make no spans');
});

t.test('a rollout step is a span with its rollout, model, step, weight and decision; the push it causes is its child', async (t) => {
  const receiver = await startOtlpReceiver();
  t.teardown(() => receiver.close());
  const cp = await tracedControlPlane(t, receiver, 1, { rolloutIntervalMs: 100 });
  t.teardown(() => cp.close());
  await modelWithVersion(cp);
  t.notOk((await cp.upload('weather', exampleOnnx('weather'), undefined, { allowDuplicate: true })).errors);
  t.notOk((await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }')).errors);
  const gw = await cp.token('gateway', 'edge-1-token');
  t.notOk((await cp.gql('mutation { registerGateway(input: { name: "edge-1" }) { id } }', {}, gw)).errors);
  const sub = await subscribe(cp.url, gw, 'subscription { desiredStateChanged { revision models { name routes { version weight } } } }');
  t.teardown(() => sub.close());
  await sub.next();

  const started = await cp.gql('mutation($input: StartRolloutInput!) { startRollout(input: $input) { id } }', { input: { model: 'weather', candidate: 2, strategy: 'CANARY', steps: [{ setWeight: 20 }, { pause: {} }] } });
  t.notOk(started.errors);
  const id = started.data.startRollout.id as string;
  // The controller's step to weight 20 (a trace of its own); its step is the one it moved to (the pause, index 1).
  await receiver.until((spans) => spans.some((s) => s.name === 'rollout.step' && s.attributes['sluice.rollout.weight'] === 20));
  const step = one(receiver.spans, 'the step to 20', (s) => s.name === 'rollout.step' && s.attributes['sluice.rollout.weight'] === 20);
  t.match(step.attributes, { 'sluice.rollout.id': id, 'sluice.model': 'weather', 'sluice.version': 2, 'sluice.rollout.step': 1, 'sluice.rollout.decision': 'rollout.step', 'sluice.outcome': 'success' });
  await receiver.until((spans) => spans.some((s) => s.name === 'sync.push' && s.parentSpanId === step.spanId));
  const push = one(receiver.spans, 'the push of the step', (s) => s.name === 'sync.push' && s.parentSpanId === step.spanId);
  t.equal(push.traceId, step.traceId, 'one trace');
  t.equal(push.attributes['sluice.gateway'], 'edge-1');
  t.match(push.attributes['sluice.revision'], /./, 'names the desired-state revision');

  // A person's promotion: mutation → rollout.promote → push, one trace under the caller's span.
  const caller = traceparent();
  const promoted = await cp.gql('mutation($id: ID!) { promoteRollout(id: $id) { phase } }', { id }, undefined, { traceparent: caller.header });
  t.equal(promoted.data?.promoteRollout.phase, 'PROMOTED', JSON.stringify(promoted.errors));
  await receiver.until((spans) => spans.some((s) => s.traceId === caller.traceId && s.name === 'sync.push'));
  const trace = receiver.spans.filter((s) => s.traceId === caller.traceId);
  const mutation = one(trace, 'the promoteRollout mutation', (s) => s.name === 'mutation promoteRollout');
  t.equal(mutation.parentSpanId, caller.spanId);
  const transition = one(trace, 'the promotion', (s) => s.name === 'rollout.promote');
  t.equal(transition.parentSpanId, mutation.spanId, 'the promotion is a child of the mutation');
  t.match(transition.attributes, { 'sluice.rollout.id': id, 'sluice.rollout.phase': 'PROMOTED', 'sluice.rollout.weight': 100, 'sluice.rollout.decision': 'rollout.promote' });
  t.equal(one(trace, 'the push', (s) => s.name === 'sync.push').parentSpanId, transition.spanId, 'the push is a child of the promotion');
});

t.test('a training job: dispatch under its mutation, the run on the local executor, and the finish in the run\'s trace', async (t) => {
  const receiver = await startOtlpReceiver();
  t.teardown(() => receiver.close());
  const cp = await tracedControlPlane(t, receiver);
  t.teardown(() => cp.close());
  await weatherInProduction(cp);
  const dir = tempDir(t);
  const trainer = writeTrainer(dir);
  const token = readFileSync(await runnerTokenFile(cp, dir), 'utf8').trim();
  const runner = new TrainingRunner({
    controlPlane: cp.url, token, executor: new LocalExecutor(), labels: [], concurrency: 1, name: 'traced', workDir: dir, pollMs: 50,
    logger: createLogger('runner-test', 'silent'), tracing: { endpoint: receiver.url, sampleRatio: 1, exportDelayMs: 50 },
  });
  await runner.start();
  t.teardown(() => runner.stop());

  const id = await submit(cp, { model: 'weather', trainer: { command: trainer.command, digest: trainer.sha256 }, dataset: writeDataset(dir, 'rows.csv', 'a,b\n1,2\n'), parameters: { x: 3 } });
  t.equal((await jobReaches(cp, id, ['SUCCEEDED', 'FAILED'])).status, 'SUCCEEDED');
  // The runner exports its span on its own, after the control plane's finish.
  await receiver.until((spans) => ['training.finish', 'training.run'].every((name) => spans.some((s) => s.name === name && s.attributes['sluice.training.job_id'] === id)));
  const spans = receiver.spans;
  const dispatch = one(spans, 'the dispatch', (s) => s.name === 'training.dispatch' && s.attributes['sluice.training.job_id'] === id);
  t.match(dispatch.attributes, { 'sluice.model': 'weather', 'sluice.training.status': 'queued', 'sluice.outcome': 'success' });
  t.equal(one(spans, 'the submit mutation', (s) => s.spanId === dispatch.parentSpanId).name, 'mutation submitTrainingJob', 'dispatch is a child of the mutation');

  const run = one(spans, 'the run', (s) => s.name === 'training.run' && s.attributes['sluice.training.job_id'] === id);
  t.equal(run.service, 'sluice-runner');
  t.match(run.attributes, { 'sluice.training.attempt': 1, 'sluice.training.executor': 'local', 'sluice.training.runner': 'traced', 'sluice.outcome': 'success' });
  const finishMutation = one(spans, 'the finish mutation', (s) => s.name === 'mutation finishTrainingAttempt' && s.traceId === run.traceId);
  t.equal(finishMutation.parentSpanId, run.spanId, 'the runner\'s report is a child of its run');
  const finish = one(spans, 'the finish', (s) => s.name === 'training.finish' && s.attributes['sluice.training.job_id'] === id);
  t.equal(finish.parentSpanId, finishMutation.spanId);
  t.match(finish.attributes, { 'sluice.training.reported': 'succeeded', 'sluice.training.status': 'succeeded', 'sluice.training.runner': 'runner', 'sluice.outcome': 'success' });
});

t.test('at ratio 0 a new trace is not recorded; a caller\'s sampled traceparent still is', async (t) => {
  const receiver = await startOtlpReceiver();
  t.teardown(() => receiver.close());
  const cp = await tracedControlPlane(t, receiver, 0);
  t.teardown(() => cp.close());
  t.notOk((await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }')).errors);
  const unsampled = traceparent();
  t.notOk((await cp.gql('mutation { createModel(input: { name: "other" }) { id } }', {}, undefined, { traceparent: unsampled.header.replace(/-01$/, '-00') })).errors);
  const sampled = traceparent();
  t.notOk((await cp.gql('mutation { createModel(input: { name: "third" }) { id } }', {}, undefined, { traceparent: sampled.header })).errors);
  await receiver.until((spans) => spans.some((s) => s.traceId === sampled.traceId));
  t.same([...new Set(receiver.spans.map((s) => s.traceId))], [sampled.traceId], 'only the sampled caller\'s trace was exported');
});

t.test('a collector that is down changes no answer', async (t) => {
  const port = await freePort();
  const cp = await startTestControlPlane(t, 'sqlite', { tracing: { endpoint: `http://127.0.0.1:${port}/v1/traces`, sampleRatio: 1, exportDelayMs: 10 } });
  const created = await cp.gql('mutation { createModel(input: { name: "weather" }) { name } }', {}, undefined, { traceparent: traceparent().header });
  t.same(created.data, { createModel: { name: 'weather' } });
  const refused = await cp.gql('mutation { createModel(input: { name: "weather" }) { name } }');
  t.match(refused.errors?.[0]?.extensions?.code, /^SLUICE_E_/, 'a refusal keeps its code');
  t.equal((await cp.gql('{ models { edges { node { name } } } }')).data.models.edges.length, 1);
  await cp.close();
});

t.test('bad tracing settings are refused at start, before anything is opened', async (t) => {
  const dir = tempDir(t, 'sluice-cp-bad-tracing-');
  const logger = createLogger('control-plane-test', 'silent');
  for (const tracing of [{ endpoint: 'ftp://127.0.0.1/v1/traces', sampleRatio: 1 }, { endpoint: 'not a url', sampleRatio: 1 }, { endpoint: 'http://127.0.0.1:4318/v1/traces', sampleRatio: 1.5 }]) {
    await t.rejects(startControlPlane({ host: '127.0.0.1', port: 0, dataDir: dir, logger, tracing }), { code: 'SLUICE_E_CONFIG_INVALID' }, JSON.stringify(tracing));
  }
  t.notOk(readdirSync(dir).includes('control-plane.db'), 'no database was created');
  const cli = await runSluice(['control-plane', '--data', dir, '--port', '0', '--otlp-endpoint', 'http://127.0.0.1:4318/v1/traces', '--trace-sample-ratio', 'half']);
  t.not(cli.code, 0);
  t.match(cli.stderr, /SLUICE_E_CONFIG_INVALID/, 'sluice control-plane refuses --trace-sample-ratio half');
});
