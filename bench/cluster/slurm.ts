// A real one-node Slurm cluster for tests and the executor bench (test/helpers/slurm.ts re-exports
// it; benches must not import test helpers): munged with its own key and socket, slurmctld and
// slurmd with a generated slurm.conf (this host as the one node, with the CPUs and memory
// `slurmd -C` finds; process tracking by process group; no accounting), state, spool and logs in
// a temp folder, ports picked free. Clients find it through SLURM_CONF = cluster.conf. Slurm runs
// jobs as their submitter and its daemons as root here (SlurmUser=root), so it needs root.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

const DAEMONS = ['munged', 'mungekey', 'slurmctld', 'slurmd', 'slurmstepd'];
const CLIENTS = ['sbatch', 'squeue', 'scancel', 'scontrol', 'sinfo', 'munge'];

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin', '/sbin'])) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

/** Why the Slurm tests cannot run here, or undefined when they can. */
export function slurmUnavailable(): string | undefined {
  const missing = [...DAEMONS, ...CLIENTS].filter((c) => which(c) === undefined);
  if (missing.length > 0) return `Slurm is not installed: ${missing.join(', ')} not found (apt-get install slurm-wlm munge)`;
  if (process.getuid?.() !== 0) return 'the test Slurm cluster runs its daemons as root (SlurmUser=root); these tests are not running as root';
  return undefined;
}

export interface SlurmCluster {
  /** The generated slurm.conf: SLURM_CONF for every client command. */
  conf: string;
  /** The one node's name (this host). */
  node: string;
  /** Partitions: `debug` (default) and `second`; the node has the feature `sluicetest`. */
  partitions: string[];
  feature: string;
  /** Run a Slurm client command against this cluster. */
  run(cmd: string, args: string[]): string;
  stop(): Promise<void>;
}

export async function startSlurm(): Promise<SlurmCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-slurm-'));
  for (const sub of ['state', 'spool', 'log']) mkdirSync(join(dir, sub));
  const daemons: ChildProcess[] = [];
  const env = { ...process.env, SLURM_CONF: join(dir, 'slurm.conf') };
  const run = (cmd: string, args: string[]) => execFileSync(which(cmd)!, args, { env, encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const daemon = (cmd: string, args: string[]) => {
    const log = createWriteStream(join(dir, 'log', `${cmd}.out`));
    const child = spawn(which(cmd)!, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    daemons.push(child);
    return child;
  };
  const logs = () => ['munged', 'slurmctld', 'slurmd'].map((d) => {
    const f = join(dir, 'log', `${d}.out`);
    return existsSync(f) ? `--- ${d}\n${readFileSync(f, 'utf8').split('\n').slice(-15).join('\n')}` : '';
  }).join('\n');

  const stop = async () => {
    // Jobs first, so no slurmstepd outlives its slurmd; then the daemons, newest first.
    spawnSync(which('scancel')!, ['--full', '--user=root'], { env, timeout: 10_000 });
    for (const child of daemons.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const munge = { key: join(dir, 'munge.key'), socket: join(dir, 'munge.socket') };
    run('mungekey', ['--create', `--keyfile=${munge.key}`]);
    daemon('munged', ['--foreground', '--force', `--socket=${munge.socket}`, `--key-file=${munge.key}`, `--pid-file=${join(dir, 'munged.pid')}`, `--seed-file=${join(dir, 'munged.seed')}`, `--log-file=${join(dir, 'log', 'munged.log')}`]);
    await until('munged answers', () => spawnSync(which('munge')!, ['-n', '-S', munge.socket], { timeout: 5000 }).status === 0, logs);

    // "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105"
    const hardware = run('slurmd', ['-C']).split('\n')[0]!.trim();
    const node = /^NodeName=(\S+)/.exec(hardware)?.[1];
    if (!node) throw new Error(`slurmd -C printed no NodeName: ${hardware}`);
    const [ctldPort, dPort] = [await freePort(), await freePort()];
    writeFileSync(join(dir, 'plugstack.conf'), '');
    writeFileSync(join(dir, 'slurm.conf'), [
      'ClusterName=sluicetest',
      `SlurmctldHost=${node}(127.0.0.1)`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${dPort}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/munge',
      'CredType=cred/munge',
      `AuthInfo=socket=${munge.socket}`,
      `StateSaveLocation=${join(dir, 'state')}`,
      `SlurmdSpoolDir=${join(dir, 'spool')}`,
      `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
      `PlugStackConfig=${join(dir, 'plugstack.conf')}`,
      'ProctrackType=proctrack/pgid',
      'TaskPlugin=task/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'AccountingStorageType=accounting_storage/none',
      'JobCompType=jobcomp/none',
      'JobAcctGatherType=jobacct_gather/none',
      'MpiDefault=none',
      'ReturnToService=2',
      // A cancelled job's processes get SIGKILL 2 s after SIGTERM (the default is 30 s).
      'KillWait=2',
      'MinJobAge=300',
      'InactiveLimit=0',
      `${hardware} NodeAddr=127.0.0.1 Features=sluicetest State=UNKNOWN`,
      `PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP`,
      `PartitionName=second Nodes=${node} MaxTime=INFINITE State=UP`,
      '',
    ].join('\n'));
    daemon('slurmctld', ['-D', '-f', env.SLURM_CONF]);
    await until('slurmctld answers', () => spawnSync(which('scontrol')!, ['ping'], { env, timeout: 5000, encoding: 'utf8' }).stdout?.includes('is UP'), logs);
    daemon('slurmd', ['-D', '-f', env.SLURM_CONF]);
    await until(`node ${node} is idle`, () => spawnSync(which('sinfo')!, ['-h', '-n', node, '-o', '%t'], { env, timeout: 5000, encoding: 'utf8' }).stdout?.trim().startsWith('idle'), logs);
    return { conf: env.SLURM_CONF, node, partitions: ['debug', 'second'], feature: 'sluicetest', run, stop };
  } catch (err) {
    const text = `${(err as Error).message}\n${logs()}`;
    await stop();
    throw new Error(`the test Slurm cluster did not start: ${text}`, { cause: err });
  }
}

async function until(what: string, probe: () => boolean | undefined, logs: () => string, boundMs = 60_000): Promise<void> {
  const end = Date.now() + boundMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`never happened: ${what}\n${logs()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
