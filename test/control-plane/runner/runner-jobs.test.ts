import t from 'tap';
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { compileProfile, parseProfile } from '../../../gateway/drift/compile.js';
import { parseModelConfig } from '../../../gateway/models/config.js';
import { weatherCsvPath } from '../../../examples/weather-dataset.js';
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI, ROOT } from '../../helpers/paths.js';
import { ADMIN_TOKEN, startTestControlPlane } from '../harness.js';
import { subscribe } from '../sse.js';
import { job, jobReaches, runnerTokenFile, startRunner, submit, tempDir, weatherInProduction, writeDataset, writeTrainer } from './training-harness.js';

// One control plane (SQLite) and one `sluice runner` process for the whole file; each test submits its own job.
const cp = await startTestControlPlane(t, 'sqlite');
await weatherInProduction(cp);
const dir = tempDir(t);
const tokenFile = await runnerTokenFile(cp, dir);
await startRunner(t, cp.url, tokenFile);
const trainer = writeTrainer(dir);
const weatherCsv = { url: weatherCsvPath(), sha256: (await import('node:crypto')).createHash('sha256').update(readFileSync(weatherCsvPath())).digest('hex') };

async function download(sha256: string): Promise<Buffer> {
  const res = await fetch(`${cp.url}/artifacts/${sha256}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (!res.ok) throw new Error(`download ${sha256}: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

t.test('the builtin trains weather: a version appears with metrics, checked lineage and a profile the gateway can load; logs stream to subscribers', async (t) => {
  const id = await submit(cp, { model: 'weather', trainer: { builtin: 'weather-mlp' }, parameters: { epochs: 15 } });
  const sub = await subscribe(cp.url, ADMIN_TOKEN, 'subscription($id: ID!) { trainingJobChanged(id: $id) { job { status } logs { seq line } } }', { id });
  const streamed: string[] = [];
  for (;;) {
    const event = (await sub.next()).data.trainingJobChanged;
    streamed.push(...event.logs.map((l: { line: string }) => l.line));
    if (['SUCCEEDED', 'FAILED'].includes(event.job.status)) break;
  }
  sub.close();
  t.ok(streamed.some((l) => l === '{"epoch":15,"loss":' + l.slice(19)), 'the last epoch line reached the subscriber');
  t.ok(streamed.some((l) => l.startsWith('{"epoch":1,')), 'and the first');
  const j = await job(cp, id);
  t.equal(j.status, 'SUCCEEDED', JSON.stringify(j.error));
  const v = j.version;
  t.equal(v.number, 2, 'a new version, after the production one');
  const metrics = Object.fromEntries(v.metrics.map((m: { name: string; value: number }) => [m.name, m.value]));
  t.ok(metrics.holdout_accuracy > 0.6, `holdout accuracy recorded (${metrics.holdout_accuracy})`);
  t.same(v.lineage, { trainingJob: id, datasetDigest: weatherCsv.sha256, trainerDigest: 'builtin:weather-mlp@1', parameters: { epochs: 15 }, parentVersion: 1 });
  t.ok(v.profile?.sha256, 'a drift profile');
  const profile = parseProfile(JSON.parse((await download(v.profile.sha256)).toString()), 'trained profile');
  t.ok(compileProfile(profile), 'the gateway compiles the profile');
  t.same(profile.tensors.find((x) => x.role === 'input')!.features.map((f) => f.name), ['precipitation', 'temp_max', 'temp_min', 'wind', 'day_of_year']);
  const config = JSON.parse((await download(v.config.sha256)).toString());
  t.ok(parseModelConfig('weather', config), 'the serving config parses');
  t.equal(config.drift.profile, 'profile.json', 'and points at the profile');
  const session = await ort.InferenceSession.create(await download(v.artifact.sha256));
  const out = await session.run({ features: new ort.Tensor('float32', Float32Array.from([0, 20, 10, 3, 180]), [1, 5]) });
  t.equal(out.label!.dims[0], 1, 'ONNX Runtime runs the model');
  const aliases = await cp.gql('{ model(name: "weather") { aliases { name version { number } } } }');
  t.same(aliases.data.model.aliases, [{ name: 'production', version: { number: 1 } }], 'no alias moved');
  const audit = await cp.gql(`{ auditEvents(filter: { resource: "training-job/${id}" }) { edges { node { action outcome } } } }`);
  t.same(audit.data.auditEvents.edges.map((e: any) => e.node.action).reverse(), ['training_job.submit', 'training_job.claim', 'training_job.finish'], 'every transition audited');
});

t.test('the command contract: environment, JSON progress lines as metrics, stderr as log, the script digest in lineage', async (t) => {
  const data = writeDataset(dir, 'rows.csv', 'a,b\n1,2\n3,4\n');
  const id = await submit(cp, { model: 'weather', trainer: { command: trainer.command, digest: trainer.sha256 }, dataset: data, parameters: { mode: 'contract', x: 2, 'learning-rate': 0.1 } });
  const j = await jobReaches(cp, id, ['SUCCEEDED', 'FAILED']);
  t.equal(j.status, 'SUCCEEDED', JSON.stringify(j.error));
  const contract = JSON.parse(j.logs.find((l: any) => l.line.startsWith('contract ')).line.slice(9));
  const env = contract.env;
  t.equal(env.SLUICE_DATASET, data.url, 'SLUICE_DATASET: the checked file');
  t.equal(contract.datasetSha256, data.sha256);
  t.same(JSON.parse(env.SLUICE_PARAMS), { mode: 'contract', x: 2, 'learning-rate': 0.1 });
  t.equal(env.SLUICE_PARAM_X, '2');
  t.equal(env.SLUICE_PARAM_LEARNING_RATE, '0.1', 'names upper-cased, other characters to _');
  t.equal(env.SLUICE_PARAM_MODE, 'contract', 'strings as they are');
  t.equal(env.SLUICE_JOB_ID, id);
  t.equal(env.SLUICE_ATTEMPT, '1');
  t.equal(env.SLUICE_MODEL, 'weather');
  t.match(env.SLUICE_OUTPUT_DIR, /output$/);
  t.ok(j.logs.some((l: any) => l.stream === 'stderr' && l.line === 'trainer: mode contract'), 'stderr lines are log lines');
  const metrics = Object.fromEntries(j.version.metrics.map((m: any) => [m.name, m.value]));
  t.same(metrics, { loss: 0.25, accuracy: 0.75 }, 'the last value of each JSON progress field; epoch is not a metric');
  t.equal(j.version.lineage.trainerDigest, trainer.sha256);
  t.equal(j.version.lineage.datasetDigest, data.sha256);
});

const python = spawnSync('/usr/bin/python3', ['-c', 'import numpy, onnx'], { encoding: 'utf8' });
const noPython = python.status === 0 ? undefined : `the example trainer needs /usr/bin/python3 with numpy and onnx (apt-get install python3-numpy python3-onnx): ${python.stderr ?? python.error}`;

t.test('the example Python command trainer retrains weather through the runner', { skip: noPython }, async (t) => {
  const script = join(ROOT, 'examples', 'trainers', 'weather_logreg.py');
  const id = await submit(cp, { model: 'weather', trainer: { command: ['/usr/bin/python3', script] }, dataset: weatherCsv, parameters: { epochs: 100 } });
  const j = await jobReaches(cp, id, ['SUCCEEDED', 'FAILED'], 90_000);
  t.equal(j.status, 'SUCCEEDED', JSON.stringify(j.error));
  t.ok(j.logs.some((l: any) => /^\{"epoch": ?100,/.test(l.line)), 'its progress lines are the log');
  t.equal(j.version.lineage.trainerDigest, createHash('sha256').update(readFileSync(script)).digest('hex'), 'the script is the trainer digest');
  t.ok(j.version.metrics.length > 0, `metrics.json recorded: ${j.version.metrics.map((m: any) => m.name).join(', ')}`);
  t.ok(j.version.profile?.sha256, 'a drift profile, from the inputs.csv it left');
  const profile = parseProfile(JSON.parse((await download(j.version.profile.sha256)).toString()), 'python profile');
  t.same(profile.tensors.find((x) => x.role === 'input')!.features.map((f) => f.name), ['precipitation', 'temp_max', 'temp_min', 'wind', 'day_of_year']);
  t.equal(profile.source.rows, j.version.metrics.find((m: any) => m.name === 'train_rows')?.value, 'built from the rows it trained on');
});

t.test('bad input fails the job with its code and registers nothing', async (t) => {
  const before = (await cp.gql('{ model(name: "weather") { versions { edges { node { number } } } } }')).data.model.versions.edges.length;
  const data = writeDataset(dir, 'bad.csv', 'a\n1\n');
  const cases: [string, Record<string, unknown>, string][] = [
    ['a dataset whose digest does not match', { dataset: { url: data.url, sha256: '0'.repeat(64) } }, 'SLUICE_E_TRAINING_DATASET_DIGEST'],
    ['a trainer that exits non-zero', { parameters: { mode: 'exit3' } }, 'SLUICE_E_TRAINING_TRAINER_EXIT'],
    ['a trainer that writes no model', { parameters: { mode: 'nomodel' } }, 'SLUICE_E_TRAINING_NO_MODEL'],
    ['an ONNX file that does not load', { parameters: { mode: 'garbage' } }, 'SLUICE_E_TRAINING_MODEL_INVALID'],
    ["a signature other than production's", { parameters: { mode: 'wrongsig' } }, 'SLUICE_E_TRAINING_SIGNATURE_MISMATCH'],
    ["a trainer file other than the job's", { trainer: { command: trainer.command, digest: 'f'.repeat(64) } }, 'SLUICE_E_TRAINING_TRAINER_DIGEST'],
  ];
  const ids = [];
  for (const [, input] of cases) ids.push(await submit(cp, { model: 'weather', trainer: { command: trainer.command }, dataset: data, ...input }));
  for (const [i, [what, , code]] of cases.entries()) {
    const j = await jobReaches(cp, ids[i]!, ['SUCCEEDED', 'FAILED']);
    t.equal(j.status, 'FAILED', what);
    t.equal(j.error?.code, code, what);
    t.equal(j.version, null, `${what}: no version`);
    if (code === 'SLUICE_E_TRAINING_TRAINER_EXIT') {
      t.same(j.error.details.exitCode, 3);
      t.ok(j.error.details.lastLines.includes('boom: the trainer gives up'), 'the last log lines are in the error');
      t.match(j.error.message, /boom: the trainer gives up/);
    }
    if (code === 'SLUICE_E_TRAINING_SIGNATURE_MISMATCH') t.ok(j.error.details.differences.includes('input features is missing'), `the difference is named: ${j.error.message}`);
    if (code === 'SLUICE_E_TRAINING_DATASET_DIGEST' || code === 'SLUICE_E_TRAINING_TRAINER_DIGEST') t.notOk(j.logs.some((l: any) => l.line.startsWith('trainer:')), 'the trainer never ran');
  }
  const after = (await cp.gql('{ model(name: "weather") { versions { edges { node { number } } } } }')).data.model.versions.edges.length;
  t.equal(after, before, 'no version registered');
});

t.test('a dataset failing the data schema stops the job with the report, before the trainer runs', async (t) => {
  const set = await cp.gql(
    `mutation { setDataSchema(model: "weather", schema: { columns: [
      { name: "precipitation", type: NUMBER, min: 0 },
      { name: "temp_max", type: NUMBER, max: 40 },
      { name: "wind", type: NUMBER, maxMissingRate: 0.1 },
      { name: "weather", type: STRING, categories: ["drizzle", "fog", "rain", "snow", "sun"] } ] }) { columns { name } driftPsi } }`,
  );
  t.equal(set.data.setDataSchema.driftPsi, 0.2);
  const data = writeDataset(dir, 'weather-bad.csv', 'date,precipitation,temp_max,temp_min,wind,weather\n2012-01-01,0,12.8,5,4.7,drizzle\n2012-01-02,-1,45,2.8,,hail\n2012-01-03,0.8,11.7,7.2,2.3,rain\n');
  const id = await submit(cp, { model: 'weather', trainer: { command: trainer.command }, dataset: data, parameters: { mode: 'ok' } });
  const j = await jobReaches(cp, id, ['SUCCEEDED', 'FAILED']);
  t.equal(j.status, 'FAILED');
  t.equal(j.error.code, 'SLUICE_E_TRAINING_DATA_INVALID');
  const failures = Object.fromEntries(j.validation.failures.map((f: any) => [`${f.column}/${f.check}`, f]));
  t.same(Object.keys(failures).sort(), ['precipitation/min', 'temp_max/max', 'weather/categories', 'wind/missing']);
  t.match(failures['temp_max/max'], { expected: '≤ 40', found: /^45/ });
  t.match(failures['weather/categories'], { found: 'hail' });
  t.same(j.error.details.failures, j.validation.failures, 'the report is in the error too');
  t.notOk(j.logs.some((l: any) => l.line.startsWith('trainer:')), 'the trainer never ran');

  const good = await submit(cp, { model: 'weather', trainer: { command: trainer.command }, dataset: weatherCsv, parameters: { mode: 'ok', x: 3 } });
  const ok = await jobReaches(cp, good, ['SUCCEEDED', 'FAILED']);
  t.equal(ok.status, 'SUCCEEDED', 'the real dataset passes the same schema');
  t.equal(ok.validation.ok, true);
  t.equal(ok.drifted, false, 'and does not drift from the profile it was built from');
  t.ok(ok.validation.drift.features.length >= 4, 'PSI per shared feature');

  const shifted = readFileSync(weatherCsvPath(), 'utf8').split('\n').map((line, i) => {
    if (i === 0 || line === '') return line;
    const c = line.split(',');
    c[2] = String(Number(c[2]) - 8);
    return c.join(',');
  }).join('\n');
  const hot = await submit(cp, { model: 'weather', trainer: { command: trainer.command }, dataset: writeDataset(dir, 'hot.csv', shifted), parameters: { mode: 'ok', x: 3 } });
  const drifted = await jobReaches(cp, hot, ['SUCCEEDED', 'FAILED']);
  t.equal(drifted.status, 'SUCCEEDED', 'drift flags the job, it does not fail it');
  t.equal(drifted.drifted, true);
  t.same(drifted.validation.drift.drifted, ['temp_max']);
});

t.test('a runner whose token lacks the role is refused and audited', async (t) => {
  const developer = await cp.token('developer');
  const claim = await cp.gql('mutation { claimTrainingJob(input: { runner: "impostor" }) { attempt } }', {}, developer);
  t.equal(claim.errors?.[0]?.extensions?.code, 'SLUICE_E_AUTH_FORBIDDEN');
  const denied = await cp.gql('{ auditEvents(filter: { action: "training_job.claim", outcome: DENIED }) { edges { node { role } } } }');
  t.same(denied.data.auditEvents.edges.map((e: any) => e.node.role), ['developer']);
  const file = `${dir}/developer.token`;
  (await import('node:fs')).writeFileSync(file, developer);
  // Async: the control plane answering it runs in this process.
  const run = await promisify(execFile)(process.execPath, [CLI, 'runner', '--control-plane', cp.url, '--token-file', file, '--log-format', 'json'], { timeout: 30_000 }).catch((err: { code: number; stderr: string }) => err);
  t.equal((run as { code: number }).code, 1, 'sluice runner exits 1 with a developer token');
  t.match((run as { stderr: string }).stderr, /SLUICE_E_AUTH_FORBIDDEN/);
});

t.test('submit refuses what cannot run: an unknown model, a viewer, a bad trainer', async (t) => {
  const r = await cp.gql('mutation { submitTrainingJob(input: { model: "nope", trainer: { builtin: "weather-mlp" } }) { id } }');
  t.equal(r.errors?.[0]?.extensions?.code, 'SLUICE_E_MODEL_NOT_FOUND');
  const viewer = await cp.token('viewer');
  const v = await cp.gql('mutation { submitTrainingJob(input: { model: "weather", trainer: { builtin: "weather-mlp" } }) { id } }', {}, viewer);
  t.equal(v.errors?.[0]?.extensions?.code, 'SLUICE_E_AUTH_FORBIDDEN');
  const read = await cp.gql('{ trainingJobs(model: "weather", first: 1) { edges { node { id } } } }', {}, viewer);
  t.equal(read.data.trainingJobs.edges.length, 1, 'viewers read');
  const b = await cp.gql('mutation { submitTrainingJob(input: { model: "weather", trainer: { builtin: "nope" } }) { id } }');
  t.match(b.errors?.[0]?.extensions, { code: 'SLUICE_E_VALIDATION', details: { field: 'trainer.builtin' } });
  const c = await cp.gql('mutation { submitTrainingJob(input: { model: "weather", trainer: { command: ["/bin/true"] } }) { id } }');
  t.match(c.errors?.[0]?.extensions, { code: 'SLUICE_E_VALIDATION', details: { field: 'dataset' } }, 'a command trainer needs a dataset');
});
