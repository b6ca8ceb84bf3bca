#!/usr/bin/env -S node --max-semi-space-size=64
// (A 64 MiB young generation: a gateway makes short-lived garbage on every call, and V8's default
// 16 MiB one scavenges it so often that it cost ~10% of the main thread's time on weather. The
// benchmark runs every Node server, baselines included, with the flags of this line.)
// The `sluice` command: serve (everything on one machine), gateway, control-plane, examples, and
// the control-plane commands (upload, audit-export, token create), `runner` and `train ...`.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createLogger, PrettyLines, type Logger } from '../lib/log.js';
import { isSluiceError, SluiceError } from '../lib/errors.js';
import { defineCommand, helpText, parseFlags, type CommandSpec, type FlagTable, type FlagValues } from '../lib/flags.js';
import { ARTIFACT_STORE_FLAG, DATA_FLAG, DB_FILE_FLAG, DB_FLAG, DRAIN_FLAG, HOST_FLAG, LOG_FORMAT_FLAG, LOG_LEVEL_FLAG } from './common-flags.js';
import { CLIENT_TLS_FLAGS, SERVER_TLS_FLAGS, TLS_CLIENT_CA_FLAG, clientTlsOf, serverTlsOf } from './common-flags.js';
import { setAdminClientTls } from './admin-tls.js';
import { BUDGET_FLAGS, budgetsFrom } from './budget-flags.js';
import { AUDIT_EXPORT_COMMAND, SET_ALIAS_COMMAND, TOKEN_CREATE_COMMAND, UPLOAD_COMMAND, runAuditExport, runSetAlias, runTokenCreate, runUpload } from './control-plane-commands.js';
import { RUNNER_COMMAND, runRunner } from './runner-commands.js';
import {
  TRAIN_CANCEL_COMMAND,
  TRAIN_LIST_COMMAND,
  TRAIN_LOGS_COMMAND,
  TRAIN_RETRY_COMMAND,
  TRAIN_SHOW_COMMAND,
  TRAIN_SUBMIT_COMMAND,
  runTrainCancel,
  runTrainList,
  runTrainLogs,
  runTrainRetry,
  runTrainShow,
  runTrainSubmit,
} from './training-commands.js';
import { rolloutCommands } from './rollout-commands.js';
import { gateCommands } from './gate-commands.js';
import { MODEL_REGIONS_COMMAND, runModelRegions } from './residency-commands.js';
import { MODEL_PLACEMENT_COMMAND, runModelPlacement } from './fleet-commands.js';
import { DOCTOR_COMMAND, runDoctor } from './doctor-commands.js';
import { REPORT_COMMAND, runReport } from './report-commands.js';
import { KEYS_ROTATE_KEK_COMMAND, runRotateKek } from './keys-commands.js';
import { alertCommands } from './alert-commands.js';
import { retrainCommands } from './retrain-commands.js';
import { keyCommands } from './key-commands.js';
import { Screen } from './screen.js';
import { accessOptions, GATEWAY_ACCESS_FLAGS, STANDALONE_ACCESS_FLAGS } from './gateway-access-flags.js';
import { TRACING_FLAGS, tracingOptions } from './tracing-flags.js';
import { adminToken, databaseUrl } from './secrets.js';
import { AUDIT_VERIFY_COMMAND, AUDIT_SERVER_FLAGS, auditRun, runAuditVerify } from './audit-commands.js';
import { exitLoudlyIfUnsettled } from './settle.js';
import type * as Servers from './servers.js';

/** The servers' modules (gateway, control plane, ORT) load only for a command that runs one: --help and flag errors answer at once. */
const servers = (): Promise<typeof Servers> => import('./servers.js');

const TOKEN_FILE_FLAG = { type: 'string', placeholder: 'path', description: 'first admin token from this file (mode 0600; or SLUICE_ADMIN_TOKEN); default: generated and shown once' } as const;
const IO_THREADS_FLAG = { type: 'int', placeholder: 'n', description: 'threads serving HTTP/WebSocket (docs/io-threads.md); default: 1 below 4 cores, else 2' } as const;
const MAX_BODY_FLAG = { type: 'int', default: 64 * 1024 * 1024, placeholder: 'bytes', description: 'largest request body accepted' } as const;

const SERVE = defineCommand({
  name: 'serve',
  summary: 'Run the gateway and the control plane on this machine, serving the example model repository (built at first start).',
  flags: {
    'gateway-port': { type: 'int', default: 8000, description: 'gateway HTTP port (0 = a free port)' },
    'control-plane-port': { type: 'int', default: 8080, description: 'control plane HTTP port (0 = a free port)' },
    host: HOST_FLAG,
    data: { ...DATA_FLAG, description: 'folder for the database, artifacts and the example models' },
    models: { type: 'string', placeholder: 'dir', description: 'model repository to serve (default: DATA/models, the example repository)' },
    'admin-token-file': TOKEN_FILE_FLAG,
    'max-body-bytes': MAX_BODY_FLAG,
    'io-threads': IO_THREADS_FLAG,
    ...GATEWAY_ACCESS_FLAGS,
    ...TRACING_FLAGS,
    ...BUDGET_FLAGS,
    'drain-timeout-ms': DRAIN_FLAG,
    'log-level': LOG_LEVEL_FLAG,
    'log-format': LOG_FORMAT_FLAG,
    ...SERVER_TLS_FLAGS,
    'tls-client-ca': TLS_CLIENT_CA_FLAG,
    ...CLIENT_TLS_FLAGS,
  },
});

const GATEWAY = defineCommand({
  name: 'gateway',
  summary: 'Run the inference gateway (Open Inference Protocol over HTTP and WebSocket).',
  flags: {
    models: { type: 'string', default: './models', placeholder: 'dir', description: 'model repository folder' },
    port: { type: 'int', default: 8000, description: 'HTTP port (0 = a free port)' },
    host: HOST_FLAG,
    'max-body-bytes': MAX_BODY_FLAG,
    'io-threads': IO_THREADS_FLAG,
    ...BUDGET_FLAGS,
    'control-plane': { type: 'string', placeholder: 'url', description: 'control plane URL to register with and sync from' },
    token: { type: 'string', description: 'gateway token for the control plane' },
    name: { type: 'string', description: 'gateway name shown by the control plane (default: host name)' },
    region: { type: 'string', description: 'region reported to the control plane' },
    labels: { type: 'list', placeholder: 'key=value,...', description: 'labels reported to the control plane' },
    'advertise-url': { type: 'string', placeholder: 'url', description: 'where the other gateways reach this one for feedback (docs/feedback.md; default: the listen address unless a wildcard)' },
    ...GATEWAY_ACCESS_FLAGS,
    ...TRACING_FLAGS,
    ...STANDALONE_ACCESS_FLAGS,
    'payload-log-dir': { type: 'string', placeholder: 'dir', description: 'write the payload log of models whose config has payload_log here (docs/payload-log.md)' },
    'payload-log-key': { type: 'string', placeholder: 'file', description: 'HMAC key for personal fields, 0600 (default: DIR/.payload-log.key, created at first start)' },
    'registry-key': { type: 'string', placeholder: 'file', description: 'pin the registry signing key (PEM from `sluice keys show-signing`) instead of trusting the first one seen' },
    'drain-timeout-ms': DRAIN_FLAG,
    'log-level': LOG_LEVEL_FLAG,
    'log-format': LOG_FORMAT_FLAG,
    ...SERVER_TLS_FLAGS,
    ...CLIENT_TLS_FLAGS,
  },
});

const CONTROL_PLANE = defineCommand({
  name: 'control-plane',
  summary: 'Run the control plane (GraphQL registry, rollouts, audit).',
  flags: {
    port: { type: 'int', default: 8080, description: 'HTTP port (0 = a free port)' },
    host: HOST_FLAG,
    data: DATA_FLAG,
    db: DB_FLAG,
    'db-file': DB_FILE_FLAG,
    'admin-token-file': TOKEN_FILE_FLAG,
    ...AUDIT_SERVER_FLAGS,
    'kek-file': { type: 'string', placeholder: 'path', description: 'key-encryption key file (created 0600 when absent): artifacts and the signing key are stored encrypted (SLUICE_KEK holds the key itself)' },
    'artifact-store': ARTIFACT_STORE_FLAG,
    'signing-key-file': { type: 'string', placeholder: 'path', description: 'registry signing key (default: DATA/keys/registry-ed25519.pem; with --artifact-store postgres: in the database, sealed under the KEK)' },
    'heartbeat-interval': { type: 'int', default: 10, placeholder: 'seconds', description: 'heartbeat interval asked of gateways; a gateway is stale after three missed' },
    ...TRACING_FLAGS,
    'drain-timeout-ms': DRAIN_FLAG,
    'log-level': LOG_LEVEL_FLAG,
    'log-format': LOG_FORMAT_FLAG,
    ...SERVER_TLS_FLAGS,
    'tls-client-ca': TLS_CLIENT_CA_FLAG,
  },
});

const EXAMPLES = defineCommand({
  name: 'examples',
  summary: 'Build the example model repository (text-direction, text-detection, weather) into a folder.',
  flags: {
    dir: { type: 'string', default: './.sluice/models', placeholder: 'dir', description: 'where to build it' },
    'log-level': LOG_LEVEL_FLAG,
  },
});

/** Every command with the function that runs it on its typed flag values. */
const COMMANDS = [
  command(SERVE, async (v) => {
    const { logger, screen } = serverOutput(v);
    const { serve, shutdownOnSignals, reloadTlsOnHangup } = await servers();
    const tls = serverTlsOf(v, v['tls-client-ca']);
    const running = await serve(
      {
        host: v.host,
        gatewayPort: v['gateway-port'],
        controlPlanePort: v['control-plane-port'],
        data: v.data,
        models: v.models,
        maxBodyBytes: v['max-body-bytes'],
        ioThreads: v['io-threads'],
        budgets: budgetsFrom(v),
        drainTimeoutMs: v['drain-timeout-ms'],
        access: accessOptions(v),
        metricsPort: v['metrics-port'],
        tracing: tracingOptions(v),
        tls,
        clientTls: clientTlsOf(v),
        adminToken: adminToken(v),
      },
      logger,
      screen,
    );
    shutdownOnSignals(running, logger, v['drain-timeout-ms']);
    if (tls !== undefined) reloadTlsOnHangup(running, tls, logger);
    return -1;
  }),
  command(GATEWAY, async (v) => {
    const { logger, screen } = serverOutput(v);
    const { listModels, parseLabels, runGateway, shutdownOnSignals, reloadTlsOnHangup, reloadTokensOnHangup } = await servers();
    const tls = serverTlsOf(v);
    if (v['control-plane'] !== undefined && (v.token === undefined || v.token === '')) {
      throw new SluiceError('SLUICE_E_CONFIG_INVALID', '--control-plane needs --token (a gateway token)', { details: { flag: 'token' } });
    }
    if (v['control-plane'] !== undefined && v['token-file'] !== undefined) {
      throw new SluiceError('SLUICE_E_CONFIG_INVALID', '--token-file is for standalone gateways: under --control-plane the callers\' tokens come from the control plane', { details: { flag: 'token-file' } });
    }
    const gw = await runGateway(
      {
        host: v.host,
        port: v.port,
        models: v.models,
        maxBodyBytes: v['max-body-bytes'],
        ioThreads: v['io-threads'],
        budgets: budgetsFrom(v),
        drainTimeoutMs: v['drain-timeout-ms'],
        tls,
        payloadLog: v['payload-log-dir'] === undefined ? undefined : { dir: v['payload-log-dir'], keyFile: v['payload-log-key'] },
        controlPlane:
          v['control-plane'] === undefined
            ? undefined
            : {
              url: v['control-plane'], token: v.token ?? '', name: v.name, region: v.region, labels: parseLabels(v.labels), tls: clientTlsOf(v), registryPublicKeyPem: readRegistryKey(v['registry-key']),
              advertiseUrl: advertiseUrlOf(v['advertise-url']),
            },
        access: accessOptions(v),
        metricsPort: v['metrics-port'],
        tracing: tracingOptions(v),
      },
      logger,
    );
    // Signals first: a gateway that is listening must drain on SIGTERM whatever happens after.
    shutdownOnSignals([gw], logger, v['drain-timeout-ms']);
    screen.ready({ seconds: performance.now() / 1000, gateway: gw.url, models: v.models, modelNames: listModels(v.models) });
    if (tls !== undefined) reloadTlsOnHangup([gw], tls, logger);
    if (v['token-file'] !== undefined) reloadTokensOnHangup(gw, v['token-file'], logger);
    return -1;
  }),
  command(CONTROL_PLANE, async (v) => {
    const { logger, screen } = serverOutput(v);
    const { adminTokenFile, runControlPlane, shutdownOnSignals, reloadTlsOnHangup } = await servers();
    const tls = serverTlsOf(v, v['tls-client-ca']);
    const db = databaseUrl(v);
    if (v['heartbeat-interval'] < 1) {
      throw new SluiceError('SLUICE_E_CONFIG_INVALID', '--heartbeat-interval must be at least 1 second', { details: { flag: 'heartbeat-interval' } });
    }
    const cp = await runControlPlane(
      {
        host: v.host,
        port: v.port,
        data: v.data,
        db,
        drainTimeoutMs: v['drain-timeout-ms'],
        heartbeatIntervalSeconds: v['heartbeat-interval'],
        tls,
        kekFile: v['kek-file'],
        artifactStore: v['artifact-store'],
        signingKeyFile: v['signing-key-file'],
        adminToken: adminToken(v),
        audit: auditRun(v),
        tracing: tracingOptions(v),
      },
      logger,
    );
    screen.ready({
      seconds: performance.now() / 1000,
      controlPlane: cp.url,
      data: db === undefined ? v.data : undefined,
      firstAdminToken: cp.firstAdminToken,
      firstAdminTokenFile: adminTokenFile(v.data),
    });
    shutdownOnSignals([cp], logger, v['drain-timeout-ms']);
    if (tls !== undefined) reloadTlsOnHangup([cp], tls, logger);
    return -1;
  }),
  command(EXAMPLES, async (v) => {
    const logger = createLogger('sluice', v['log-level']);
    const { ensureExampleRepository } = await import('../examples/repository.js');
    const dir = resolve(v.dir);
    const built = ensureExampleRepository(dir, (model) => logger.info({ dir, model }, `building ${model}`));
    logger.info({ dir, built }, built ? 'example repository built' : 'example repository is up to date');
    return 0;
  }),
  command(UPLOAD_COMMAND, (v) => runUpload(v, createLogger('sluice', v['log-level'], 2))),
  command(SET_ALIAS_COMMAND, (v) => runSetAlias(v, createLogger('sluice', v['log-level'], 2))),
  command(AUDIT_EXPORT_COMMAND, (v) => runAuditExport(v, createLogger('sluice', v['log-level'], 2))),
  command(AUDIT_VERIFY_COMMAND, (v) => runAuditVerify(v, createLogger('sluice', v['log-level'], 2))),
  command(TOKEN_CREATE_COMMAND, (v) => runTokenCreate(v, createLogger('sluice', v['log-level'], 2))),
  command(RUNNER_COMMAND, async (v) => {
    const { logger } = serverOutput(v);
    const runner = await runRunner(v, logger);
    const { shutdownOnSignals } = await servers();
    shutdownOnSignals([{ url: '', port: 0, close: () => runner.stop() }], logger, 10_000);
    return -1;
  }),
  command(TRAIN_SUBMIT_COMMAND, (v) => runTrainSubmit(v)),
  command(TRAIN_LIST_COMMAND, (v) => runTrainList(v)),
  command(TRAIN_SHOW_COMMAND, (v) => runTrainShow(v)),
  command(TRAIN_LOGS_COMMAND, (v) => runTrainLogs(v)),
  command(TRAIN_CANCEL_COMMAND, (v) => runTrainCancel(v)),
  command(TRAIN_RETRY_COMMAND, (v) => runTrainRetry(v)),
  ...rolloutCommands(command),
  ...keyCommands(command),
  ...gateCommands(command),
  command(MODEL_REGIONS_COMMAND, (v) => runModelRegions(v)),
  command(MODEL_PLACEMENT_COMMAND, (v) => runModelPlacement(v)),
  command(DOCTOR_COMMAND, (v) => runDoctor(v)),
  command(REPORT_COMMAND, (v) => runReport(v)),
  command(KEYS_ROTATE_KEK_COMMAND, (v) => runRotateKek(v)),
  ...alertCommands(command),
  ...retrainCommands(command),
];

/** `--registry-key FILE`: the PEM it holds (refused, naming the flag, when unreadable). */
function readRegistryKey(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new SluiceError('SLUICE_E_CONFIG_FILE_MISSING', `--registry-key ${file} cannot be read`, { cause: err, details: { flag: 'registry-key' } });
  }
}

/** `--advertise-url` (SLUICE_ADVERTISE_URL, as every flag): an http(s) base URL, refused naming the flag otherwise. */
function advertiseUrlOf(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname.replace(/\/+$/, '') !== '' || url.search !== '' || url.username !== '') {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--advertise-url must be a base URL such as http://10.0.0.5:8000, got "${value.slice(0, 100)}"`, { details: { flag: 'advertise-url' } });
  }
  return url.origin;
}

interface Command {
  spec: CommandSpec;
  /** Parse argv for this command and run it; resolves to the exit code, or -1 for a server that keeps running. */
  run(argv: string[]): Promise<number>;
}

function command<F extends FlagTable>(spec: CommandSpec<F>, run: (values: FlagValues<F>) => Promise<number>): Command {
  return {
    spec,
    run: async (argv) => {
      const parsed = parseFlags(spec, argv);
      if (parsed.help) {
        process.stdout.write(helpText(spec));
        return 0;
      }
      // Admin commands reach an https control plane with these (cli/admin-tls.ts).
      if ('control-plane-ca' in spec.flags) setAdminClientTls(clientTlsOf(parsed.values as Parameters<typeof clientTlsOf>[0]));
      return run(parsed.values);
    },
  };
}

/** A server's logger: pretty lines and a first screen for a person at a terminal, JSON lines otherwise. */
function serverOutput(v: { 'log-level': string; 'log-format': 'auto' | 'json' | 'pretty' }): { logger: Logger; screen: Screen } {
  const pretty = v['log-format'] === 'pretty' || (v['log-format'] === 'auto' && process.stdout.isTTY === true) ? new PrettyLines(1) : undefined;
  const logger = createLogger('sluice', v['log-level'], 1, pretty ?? 'json');
  return { logger, screen: new Screen(logger, pretty) };
}

function usage(): string {
  const names = COMMANDS.map((c) => `  ${c.spec.name.padEnd(21)}${c.spec.summary}`);
  return ['Usage: sluice <command> [flags]', '', 'Commands:', ...names, '', 'Run sluice <command> --help for its flags.', ''].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 1 : 0;
  }
  // Commands of two or three words (`token create`, `retrain policy set`) take their words before the flags: the longest name that matches wins.
  const words = [name];
  for (const w of rest.slice(0, 2)) {
    if (w.startsWith('-')) break;
    words.push(w);
  }
  for (let n = words.length; n >= 1; n--) {
    const cmd = COMMANDS.find((c) => c.spec.name === words.slice(0, n).join(' '));
    if (cmd) return cmd.run(rest.slice(n - 1));
  }
  const family = COMMANDS.some((c) => c.spec.name.startsWith(`${name} `));
  process.stderr.write(`sluice: unknown command "${family && rest[0] !== undefined ? `${name} ${rest[0]}` : name}"\n\n${usage()}`);
  return 1;
}

// A reader that stops early (`sluice train logs | head -3`) closes the pipe: that is the reader's
// choice, not our failure, so stop quietly instead of dying on an unheard EPIPE.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const run = main(process.argv.slice(2)).then(
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
exitLoudlyIfUnsettled(run);
