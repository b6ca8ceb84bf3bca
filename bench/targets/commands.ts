// How to start each server under test for a workload. Every server gets a model repository holding
// only that workload's model, so Sluice and the baselines serve exactly the same thing.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureExampleRepository } from '../../examples/repository.js';
import { parseModelConfig, type ModelConfig } from '../../gateway/models/config.js';
import { WORKLOADS, type WorkloadName } from '../workloads.js';
import type { TargetName } from '../report/types.js';
import type { ServerCommand } from './server-process.js';

/** The package root (this file runs from dist/bench/targets/). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DIST = join(ROOT, 'dist');

/**
 * The Node flags on the `sluice` command's `#!/usr/bin/env -S node ...` line under `root`: what a user
 * running `npx sluice` gets. Every Node server in the benchmark, baselines included, runs with them.
 */
export function sluiceNodeFlags(root = ROOT): string[] {
  const first = readFileSync(join(root, 'dist', 'cli', 'sluice.js'), 'utf8').split('\n', 1)[0]!;
  const m = /^#!\S*env(?: -S)? node(.*)$/.exec(first);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
}

/** `.sluice/bench/<model>`: a one-model repository copied from the example repository. */
export function benchRepository(workload: WorkloadName): string {
  const examples = join(ROOT, '.sluice', 'bench', 'examples');
  const built = ensureExampleRepository(examples);
  const model = WORKLOADS[workload].model;
  const repo = join(ROOT, '.sluice', 'bench', `only-${model}`);
  if (built || !existsSync(join(repo, model, 'config.json'))) {
    rmSync(repo, { recursive: true, force: true });
    mkdirSync(repo, { recursive: true });
    cpSync(join(examples, model), join(repo, model), { recursive: true });
  }
  return repo;
}

/** The workload model's config in `repo`, read by the gateway's own parser (defaults included). */
export function benchModelConfig(repo: string, workload: WorkloadName): ModelConfig {
  const model = WORKLOADS[workload].model;
  return parseModelConfig(model, JSON.parse(readFileSync(join(repo, model, 'config.json'), 'utf8')));
}

/** The bearer token the load generator sends to sluice-auth (a bench secret, not a real one). */
export const BENCH_TOKEN = 'sluice_bench-0123456789abcdefghijklmnopqrstuvwxyzABCDEF';

/** `.sluice/bench/tokens`: the token file of sluice-auth (infer:* and metrics, no rate limit). */
export function benchTokenFile(): string {
  const path = join(ROOT, '.sluice', 'bench', 'tokens');
  mkdirSync(join(ROOT, '.sluice', 'bench'), { recursive: true });
  writeFileSync(path, `${BENCH_TOKEN} infer:*,metrics name=bench\n`);
  return path;
}

export function targetCommand(target: TargetName, workload: WorkloadName, repo: string, cpus: string | undefined, extraNodeFlags: string[] = []): ServerCommand {
  const nodeFlags = [...sluiceNodeFlags(), ...extraNodeFlags];
  switch (target) {
    case 'sluice':
    case 'sluice-ws':
      // The same `sluice gateway` (it serves /v2/ws by default); sluice-ws differs in transport only.
      return { name: target, cpus, nodeFlags, args: [join(DIST, 'cli', 'sluice.js'), 'gateway', '--models', repo, '--port', '0', '--log-level', 'info'] };
    case 'sluice-auth':
      // The same gateway with a token file: every call's bearer token is checked (issue 17).
      return { name: target, cpus, nodeFlags, args: [join(DIST, 'cli', 'sluice.js'), 'gateway', '--models', repo, '--port', '0', '--log-level', 'info', '--token-file', benchTokenFile()] };
    case 'naive':
    case 'naive-1t':
    case 'micro-batch': {
      const args = [join(DIST, 'bench', 'targets', 'naive-server.js'), '--models', repo, '--workload', workload, '--batching', target === 'micro-batch' ? 'micro' : 'none'];
      if (target === 'naive-1t') args.push('--intra-op-threads', '1');
      return { name: target, cpus, nodeFlags, args };
    }
    case 'uws-fixed':
      return { name: target, cpus, nodeFlags, args: [join(DIST, 'bench', 'targets', 'fixed-server.js')] };
  }
}
