// What the figures were measured on, stored with every result: a ratio from a 2-core VM and one
// from a 64-core server are different claims.
import { availableParallelism, cpus, loadavg, release, totalmem, type as osType } from 'node:os';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { MachineInfo } from './report/types.js';

const require = createRequire(import.meta.url);

function packageVersion(name: string): string {
  try {
    // The package's main entry is always resolvable; its package.json may not be exported.
    let dir = dirname(require.resolve(name));
    for (let i = 0; i < 5; i++, dir = dirname(dir)) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.version && pkg.name) return `${pkg.name}@${pkg.version}`;
      } catch {
        // not the package root yet
      }
    }
  } catch {
    // not installed
  }
  return 'unknown';
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

export function describeMachine(): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    availableParallelism: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${osType()} ${release()}`,
    node: process.version,
    onnxruntime: packageVersion('onnxruntime-node'),
    uws: packageVersion('uWebSockets.js'),
    fastify: packageVersion('fastify'),
    gitCommit: gitCommit(),
    loadAverage: loadavg()[0] ?? 0,
  };
}
