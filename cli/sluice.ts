#!/usr/bin/env -S node --max-semi-space-size=64
// (A 64 MiB young generation: a gateway makes short-lived garbage on every call, and V8's default
// 16 MiB one scavenges it so often that it cost ~10% of the main thread's time on weather. The
// benchmark runs every Node server, baselines included, with the flags of this line.)
// The `sluice` command: serve (everything on one machine), gateway, control-plane, examples.
import { resolve, join } from 'node:path';
import { createLogger, type Logger } from '../lib/log.js';
import { isSluiceError } from '../lib/errors.js';
import type { RunningServer } from '../lib/server.js';
import { helpText, parseFlags, type CommandSpec, type FlagSpec, type FlagValues } from './flags.js';
import { ensureExampleRepository } from './example-repository.js';
import { startControlPlane } from '../control-plane/index.js';
import { startGateway } from '../gateway/index.js';
import { AUDIT_EXPORT_COMMAND, SET_ALIAS_COMMAND, UPLOAD_COMMAND, runAuditExport, runSetAlias, runUpload } from '../control-plane/cli-commands.js';
import { SluiceError } from '../lib/errors.js';

const HOST: FlagSpec = { name: 'host', type: 'string', default: '127.0.0.1', description: 'address to listen on' };
const LOG_LEVEL: FlagSpec = { name: 'log-level', type: 'string', default: 'info', description: 'fatal, error, warn, info, debug, trace or silent' };
const DRAIN: FlagSpec = { name: 'drain-timeout-ms', type: 'int', default: 10_000, description: 'how long shutdown waits for in-flight calls' };

const GATEWAY_FLAGS: FlagSpec[] = [
  { name: 'models', type: 'string', default: './models', description: 'model repository folder' },
  { name: 'port', type: 'int', default: 8000, description: 'HTTP port (0 = a free port)' },
  HOST,
  { name: 'max-body-bytes', type: 'int', default: 64 * 1024 * 1024, description: 'largest request body accepted' },
  { name: 'control-plane', type: 'string', description: 'control plane URL to register with and sync from' },
  { name: 'token', type: 'string', description: 'gateway token for the control plane' },
  { name: 'name', type: 'string', description: 'gateway name shown by the control plane (default: host name)' },
  { name: 'region', type: 'string', description: 'region reported to the control plane' },
  { name: 'labels', type: 'list', description: 'key=value,... labels reported to the control plane' },
  DRAIN,
  LOG_LEVEL,
];

const CONTROL_PLANE_FLAGS: FlagSpec[] = [
  { name: 'port', type: 'int', default: 8080, description: 'HTTP port (0 = a free port)' },
  HOST,
  { name: 'data', type: 'string', default: './.sluice', description: 'folder for the SQLite database, artifacts and keys' },
  { name: 'db', type: 'string', description: 'postgres://… to store in PostgreSQL instead of SQLite' },
  DRAIN,
  LOG_LEVEL,
];

const COMMANDS: Record<string, CommandSpec> = {
  serve: {
    name: 'serve',
    summary: 'Run the gateway and the control plane on this machine, serving the example model repository (built at first start).',
    flags: [
      { name: 'gateway-port', type: 'int', default: 8000, description: 'gateway HTTP port (0 = a free port)' },
      { name: 'control-plane-port', type: 'int', default: 8080, description: 'control plane HTTP port (0 = a free port)' },
      HOST,
      { name: 'data', type: 'string', default: './.sluice', description: 'folder for the database, artifacts and the example models' },
      { name: 'models', type: 'string', description: 'model repository to serve (default: DATA/models, the example repository)' },
      { name: 'max-body-bytes', type: 'int', default: 64 * 1024 * 1024, description: 'largest request body accepted' },
      DRAIN,
      LOG_LEVEL,
    ],
  },
  gateway: { name: 'gateway', summary: 'Run the inference gateway (Open Inference Protocol over HTTP and WebSocket).', flags: GATEWAY_FLAGS },
  'control-plane': { name: 'control-plane', summary: 'Run the control plane (GraphQL registry, rollouts, audit).', flags: CONTROL_PLANE_FLAGS },
  examples: {
    name: 'examples',
    summary: 'Build the example model repository (text-direction, text-detection, weather) into a folder.',
    flags: [{ name: 'dir', type: 'string', default: './.sluice/models', description: 'where to build it' }, LOG_LEVEL],
  },
  'audit-export': AUDIT_EXPORT_COMMAND,
  upload: UPLOAD_COMMAND,
  'set-alias': SET_ALIAS_COMMAND,
};

function labels(list: string[] | undefined): Record<string, string> | undefined {
  if (list === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--labels entries are key=value, got "${item}"`, { details: { flag: 'labels' } });
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

function usage(): string {
  const names = Object.values(COMMANDS).map((c) => `  ${c.name.padEnd(15)}${c.summary}`);
  return ['Usage: sluice <command> [flags]', '', 'Commands:', ...names, '', 'Run sluice <command> --help for its flags.', ''].join('\n');
}

/** Stop every server on SIGINT/SIGTERM: stop accepting, drain, exit 0 (1 if draining failed or timed out). */
function shutdownOnSignals(servers: RunningServer[], logger: Logger, drainTimeoutMs: number): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ drainTimeoutMs }, 'drain timed out');
      process.exit(1);
    }, drainTimeoutMs + 2_000);
    timer.unref();
    Promise.all(servers.map((s) => s.close())).then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

async function runGateway(v: FlagValues, logger: Logger, models: string): Promise<RunningServer> {
  const opts: Parameters<typeof startGateway>[0] = {
    host: v.host as string,
    port: v['gateway-port'] === undefined ? (v.port as number) : (v['gateway-port'] as number),
    modelRepository: resolve(models),
    maxBodyBytes: v['max-body-bytes'] as number,
    drainTimeoutMs: v['drain-timeout-ms'] as number,
    logger: logger.child({ component: 'gateway' }),
  };
  if (typeof v['control-plane'] === 'string') {
    if (typeof v.token !== 'string' || v.token === '') {
      throw new SluiceError('SLUICE_E_CONFIG_INVALID', '--control-plane needs --token (a gateway token)', { details: { flag: 'token' } });
    }
    opts.controlPlane = {
      url: v['control-plane'],
      token: v.token,
      name: v.name as string | undefined,
      region: v.region as string | undefined,
      labels: labels(v.labels as string[] | undefined),
    };
  }
  const gw = await startGateway(opts);
  logger.info({ component: 'gateway', models: opts.modelRepository }, `gateway listening on ${gw.url}`);
  return gw;
}

/** `local`: the control plane of `sluice serve`, which registers `local.models` and mints a token for its own gateway. */
async function runControlPlane(v: FlagValues, logger: Logger, local?: { models: string }) {
  const opts: Parameters<typeof startControlPlane>[0] = {
    host: v.host as string,
    port: v['control-plane-port'] === undefined ? (v.port as number) : (v['control-plane-port'] as number),
    dataDir: resolve(v.data as string),
    drainTimeoutMs: v['drain-timeout-ms'] as number,
    logger: logger.child({ component: 'control-plane' }),
  };
  if (typeof v.db === 'string') opts.db = v.db;
  if (local) {
    opts.seedRepository = resolve(local.models);
    opts.localGateway = true;
  }
  const cp = await startControlPlane(opts);
  logger.info({ component: 'control-plane' }, `control plane listening on ${cp.url}`);
  return cp;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 1 : 0;
  }
  const spec = COMMANDS[name];
  if (!spec) {
    process.stderr.write(`sluice: unknown command "${name}"\n\n${usage()}`);
    return 1;
  }
  const v = parseFlags(spec, rest);
  if (v.help) {
    process.stdout.write(helpText(spec));
    return 0;
  }
  const logger = createLogger('sluice', v['log-level'] as string);
  switch (name) {
    case 'examples': {
      const dir = resolve(v.dir as string);
      const built = ensureExampleRepository(dir);
      logger.info({ dir, built }, built ? 'example repository built' : 'example repository is up to date');
      return 0;
    }
    case 'gateway': {
      const gw = await runGateway(v, logger, v.models as string);
      shutdownOnSignals([gw], logger, v['drain-timeout-ms'] as number);
      return -1;
    }
    case 'audit-export':
      return runAuditExport(v, createLogger('sluice', v['log-level'] as string, 2));
    case 'upload':
      return runUpload(v, createLogger('sluice', v['log-level'] as string, 2));
    case 'set-alias':
      return runSetAlias(v, createLogger('sluice', v['log-level'] as string, 2));
    case 'control-plane': {
      const cp = await runControlPlane(v, logger);
      shutdownOnSignals([cp], logger, v['drain-timeout-ms'] as number);
      return -1;
    }
    default: {
      const data = resolve(v.data as string);
      let models = v.models as string | undefined;
      if (models === undefined) {
        models = join(data, 'models');
        if (ensureExampleRepository(models)) logger.info({ dir: models }, 'example repository built');
      }
      const cp = await runControlPlane(v, logger, { models });
      const gw = await runGateway({ ...v, 'control-plane': cp.url, token: cp.localGatewayToken, name: 'local' }, logger, models);
      shutdownOnSignals([gw, cp], logger, v['drain-timeout-ms'] as number);
      return -1;
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    const sys = err as NodeJS.ErrnoException & { address?: string; port?: number };
    if (isSluiceError(err)) process.stderr.write(`sluice: ${err.message} (${err.code})\n`);
    else if (sys?.code === 'EADDRINUSE' || sys?.code === 'EACCES') {
      process.stderr.write(`sluice: cannot listen on ${sys.address}:${sys.port}: ${sys.code === 'EADDRINUSE' ? 'address already in use' : 'permission denied'}\n`);
    } else process.stderr.write(`sluice: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
