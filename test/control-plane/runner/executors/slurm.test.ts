// The Slurm executor against a real one-node cluster (test/helpers/slurm.ts): sbatch, squeue,
// scontrol and scancel for real, jobs running as processes on this host.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readOnnxSignature } from '../../../../control-plane/services/onnx-signature.js';
import { weatherCsvPath } from '../../../../examples/weather-dataset.js';
import { labelsToSbatch, SlurmExecutor } from '../../../../control-plane/runner/executors/slurm.js';
import type { ExecutionSpec } from '../../../../control-plane/runner/executor.js';
import { exampleModels, ROOT } from '../../../helpers/paths.js';
import { slurmUnavailable, startSlurm, type SlurmCluster } from '../../../helpers/slurm.js';

const NODE = process.execPath;

t.test('labels map to sbatch resources', async (t) => {
  t.same(labelsToSbatch([], undefined), []);
  t.same(labelsToSbatch([], 'cpu'), ['--partition=cpu']);
  t.same(labelsToSbatch(['gpu', 'region=eu', 'avx512', 'infiniband'], 'cpu'), ['--partition=eu', '--gres=gpu:1', '--constraint=avx512&infiniband']);
  t.same(labelsToSbatch(['gpu=4', 'partition=big'], undefined), ['--partition=big', '--gres=gpu:4']);
  t.throws(() => labelsToSbatch(['partition=a', 'region=b'], undefined), { code: 'SLUICE_E_TRAINING_START' }, 'two partitions');
  t.throws(() => labelsToSbatch(['gpu=lots'], undefined), { code: 'SLUICE_E_TRAINING_START' });
  t.throws(() => labelsToSbatch(['has space'], undefined), { code: 'SLUICE_E_TRAINING_START' });
});

const unavailable = slurmUnavailable();
if (unavailable) t.comment(`Slurm tests skipped: ${unavailable}`);

t.test('on a real one-node Slurm cluster', { skip: unavailable }, async (t) => {
  const cluster: SlurmCluster = await startSlurm();
  t.teardown(() => cluster.stop());
  const executor = new SlurmExecutor({ slurmConf: cluster.conf, pollIntervalMs: 200 });
  let n = 0;

  function attempt(t: Test, command: string[], over: Partial<ExecutionSpec> = {}) {
    const workDir = t.testdir();
    const output = join(workDir, 'output');
    mkdirSync(output);
    const spec: ExecutionSpec = {
      jobId: `job-${++n}`, attempt: 1, command, workDir, labels: [], timeoutSeconds: 120,
      env: { SLUICE_OUTPUT_DIR: output, SLUICE_JOB_ID: `job-${n}`, SLUICE_ATTEMPT: '1', SLUICE_MODEL: 'weather' }, ...over,
    };
    const lines: Array<[string, string]> = [];
    const waiters: Array<[string, () => void]> = [];
    const onLine = (stream: 'stdout' | 'stderr', line: string) => {
      lines.push([stream, line]);
      for (const [want, resolve] of waiters) if (want === line) resolve();
    };
    const seen = (want: string) => new Promise<void>((resolve) => (lines.some(([, l]) => l === want) ? resolve() : waiters.push([want, resolve])));
    return { spec, lines, onLine, seen, workDir, output };
  }

  const running = (pid: number) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      return !['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
    } catch {
      return false;
    }
  };

  t.test('a contract trainer runs to exit 0 with its exact environment, lines streamed while it runs, output collected', async (t) => {
    const a = attempt(t, [NODE, '-e', `
      const fs = require('node:fs');
      console.log(JSON.stringify({ env: process.env, cwd: process.cwd() }));
      console.log('ready');
      const wait = () => fs.existsSync('go') ? finish() : setTimeout(wait, 50);
      function finish() {
        console.log(JSON.stringify({ epoch: 1, loss: 0.5 }));
        console.error('a log line');
        fs.writeFileSync(process.env.SLUICE_OUTPUT_DIR + '/model.onnx', 'bytes');
        process.stdout.write('last line without newline');
      }
      wait();`]);
    a.spec.env.SLUICE_PARAMS = `{"note":"it's $HOME \`id\` \\"q\\"\nsecond line"}`;
    const exec = await executor.start(a.spec, a.onLine);
    t.match(exec.handle, /^slurm:\d+$/);
    await a.seen('ready');
    writeFileSync(join(a.workDir, 'go'), '');
    t.same(await exec.done, { outcome: 'exited', exitCode: 0 });
    const seen = JSON.parse(a.lines[0]![1]);
    t.equal(seen.cwd, a.workDir);
    t.same(Object.keys(seen.env).sort(), [...Object.keys(a.spec.env), 'HOME', 'PATH'].sort(), 'nothing of Slurm or the runner leaks in');
    t.equal(seen.env.SLUICE_PARAMS, a.spec.env.SLUICE_PARAMS, 'quotes, $, backticks and newlines arrive unchanged');
    t.same(a.lines.slice(1).filter(([s]) => s === 'stdout').map(([, l]) => l), ['ready', '{"epoch":1,"loss":0.5}', 'last line without newline']);
    t.same(a.lines.filter(([s]) => s === 'stderr').map(([, l]) => l), ['a log line']);
    t.equal(readFileSync(join(a.output, 'model.onnx'), 'utf8'), 'bytes');
    const job = cluster.run('scontrol', ['show', 'job', '-o', exec.handle.slice('slurm:'.length)]);
    t.match(job, `JobName=sluice-${a.spec.jobId}-a1`);
    t.match(job, 'Partition=debug');
  });

  t.test('a non-zero exit code comes back as it is', async (t) => {
    const a = attempt(t, ['/bin/sh', '-c', 'echo "bad dataset" >&2; exit 3']);
    const exec = await executor.start(a.spec, a.onLine);
    t.same(await exec.done, { outcome: 'exited', exitCode: 3 });
    t.same(a.lines, [['stderr', 'bad dataset']]);
  });

  t.test('cancel stops the job with scancel, and no process of it is left', async (t) => {
    const a = attempt(t, ['/bin/sh', '-c', 'echo $$ > trainer.pid; sleep 1000 & echo $! > child.pid; echo ready; wait']);
    const exec = await executor.start(a.spec, a.onLine);
    await a.seen('ready');
    const pids = ['trainer.pid', 'child.pid'].map((f) => Number(readFileSync(join(a.workDir, f), 'utf8')));
    t.ok(pids.every(running), 'trainer and child run');
    await exec.cancel();
    t.same(await exec.done, { outcome: 'cancelled' });
    t.same(pids.filter(running), [], 'no process left');
    const state = cluster.run('squeue', ['-h', '-t', 'all', '-j', exec.handle.slice('slurm:'.length), '-o', '%T']).trim();
    t.ok(['CANCELLED', 'FAILED', 'COMPLETED'].includes(state), `the job ended (${state})`);
  });

  t.test('a job still pending is cancelled without ever running', async (t) => {
    const held = new SlurmExecutor({ slurmConf: cluster.conf, pollIntervalMs: 200, sbatchArgs: ['--hold'] });
    const a = attempt(t, ['/bin/sh', '-c', 'touch ran']);
    const exec = await held.start(a.spec, a.onLine);
    const id = exec.handle.slice('slurm:'.length);
    t.equal(cluster.run('squeue', ['-h', '-j', id, '-o', '%T']).trim(), 'PENDING');
    await exec.cancel();
    t.same(await exec.done, { outcome: 'cancelled' });
    t.equal(cluster.run('squeue', ['-h', '-t', 'all', '-j', id, '-o', '%T']).trim(), 'CANCELLED');
    t.notOk(existsSync(join(a.workDir, 'ran')));
  });

  t.test('a job past its timeout is stopped and reported timed-out', async (t) => {
    const a = attempt(t, ['/bin/sh', '-c', "trap '' TERM; sleep 1000 & echo $! > child.pid; echo ready; wait; wait"], { timeoutSeconds: 5 });
    const exec = await executor.start(a.spec, a.onLine);
    t.same(await exec.done, { outcome: 'timed-out' });
    t.ok(a.lines.some(([, l]) => l === 'ready'), 'the clock ran from the start of the script, not of the queue');
    t.notOk(running(Number(readFileSync(join(a.workDir, 'child.pid'), 'utf8'))), 'even a child ignoring SIGTERM is gone');
  });

  t.test('a job whose batch script is killed from outside is reported killed with the signal', async (t) => {
    const a = attempt(t, ['/bin/sh', '-c', 'kill -KILL $PPID; sleep 1000']);
    const exec = await executor.start(a.spec, a.onLine);
    t.same(await exec.done, { outcome: 'killed', signal: 'SIGKILL' });
  });

  t.test('a job cancelled outside Sluice (an admin\'s scancel) is reported killed, not cancelled', async (t) => {
    const a = attempt(t, ['/bin/sh', '-c', 'echo ready; sleep 1000']);
    const exec = await executor.start(a.spec, a.onLine);
    await a.seen('ready');
    cluster.run('scancel', [exec.handle.slice('slurm:'.length)]);
    t.same(await exec.done, { outcome: 'killed', signal: 'SIGTERM' });
  });

  t.test('labels choose the partition and the node features', async (t) => {
    const a = attempt(t, ['/bin/true'], { labels: ['partition=second', cluster.feature] });
    const exec = await executor.start(a.spec, a.onLine);
    t.same(await exec.done, { outcome: 'exited', exitCode: 0 });
    const job = cluster.run('scontrol', ['show', 'job', '-o', exec.handle.slice('slurm:'.length)]);
    t.match(job, 'Partition=second');
    t.match(job, `Features=${cluster.feature}`);
  });

  t.test('resources the cluster does not have are refused at submission with SLUICE_E_TRAINING_START', async (t) => {
    for (const labels of [['gpu'], ['region=nowhere'], ['no-such-feature']]) {
      const a = attempt(t, ['/bin/true'], { labels });
      await t.rejects(executor.start(a.spec, a.onLine), { code: 'SLUICE_E_TRAINING_START' }, labels.join(','));
    }
  });

  t.test('a trainer that is not there ends the job with exit 127 and the reason in its log', async (t) => {
    const a = attempt(t, ['/nonexistent/trainer']);
    const exec = await executor.start(a.spec, a.onLine);
    t.same(await exec.done, { outcome: 'exited', exitCode: 127 });
    t.ok(a.lines.some(([s, l]) => s === 'stderr' && l.includes('/nonexistent/trainer')));
    t.notOk(existsSync(join(a.output, 'model.onnx')));
  });

  const python = spawnSync('/usr/bin/python3', ['-c', 'import numpy, onnx']).status === 0 ? undefined : '/usr/bin/python3 lacks numpy/onnx (apt-get install python3-numpy python3-onnx)';
  t.test('the example weather trainer runs on Slurm and leaves a model with production signature', { skip: python }, async (t) => {
    const a = attempt(t, ['/usr/bin/python3', join(ROOT, 'examples', 'trainers', 'weather_logreg.py')]);
    Object.assign(a.spec.env, { SLUICE_DATASET: weatherCsvPath(), SLUICE_PARAMS: '{"epochs":100}', SLUICE_PARAM_EPOCHS: '100' });
    const exec = await executor.start(a.spec, a.onLine);
    t.same(await exec.done, { outcome: 'exited', exitCode: 0 }, a.lines.map(([, l]) => l).join('\n'));
    t.ok(a.lines.some(([s, l]) => s === 'stdout' && /^\{"epoch": 100, "loss": /.test(l)), 'progress lines came through the output file');
    const metrics = JSON.parse(readFileSync(join(a.output, 'metrics.json'), 'utf8'));
    t.ok(metrics.holdout_accuracy > metrics.holdout_majority_rate);
    const production = readOnnxSignature(readFileSync(join(exampleModels(), 'weather', '1', 'model.onnx')));
    t.same(readOnnxSignature(readFileSync(join(a.output, 'model.onnx'))), production);
  });
});
