// What the fuzzer runs against: a real gateway on 127.0.0.1 (weather and text-direction from the
// example repository, one ORT worker) and a real control plane's GraphQL endpoint (SQLite in a
// temporary folder, the same services, yoga instance and node:http server startControlPlane wires).
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../lib/log.js';
import { startGateway, type Gateway } from '../../gateway/index.js';
import { parseModelConfig } from '../../gateway/models/config.js';
import { imagePlans, type ImagePlan } from '../../gateway/preprocess/image-plan.js';
import { ensureExampleRepository } from '../../examples/repository.js';
import { ControlPlaneServices } from '../../control-plane/services/control-plane.js';
import { createGraphQL } from '../../control-plane/server/graphql.js';
import { listen } from '../../control-plane/server/http.js';
import { DEFAULT_GRAPHQL_LIMITS } from '../../control-plane/plugins/use-armor.js';

/** The package root (this file runs from dist/bench/fuzz/). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function exampleRepository(): string {
  const dir = join(ROOT, '.sluice', 'test-models');
  ensureExampleRepository(dir);
  return dir;
}

export interface FuzzGateway {
  gateway: Gateway;
  url: string;
  close(): Promise<void>;
}

export async function startFuzzGateway(): Promise<FuzzGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-fuzz-gw-'));
  const models = join(dir, 'models');
  mkdirSync(models);
  for (const name of ['weather', 'text-direction']) cpSync(join(exampleRepository(), name), join(models, name), { recursive: true });
  const gateway = await startGateway({
    host: '127.0.0.1',
    port: 0,
    modelRepository: models,
    maxBodyBytes: 8 * 1024 * 1024,
    drainTimeoutMs: 5_000,
    workerThreads: 1,
    logger: createLogger('fuzz', 'silent'),
    // Lag shedding off: the fuzzer builds its inputs on this same event loop, and its bursts would
    // read as gateway lag (a 503 SLUICE_E_BUDGET_OVERLOADED is not what a fuzz input should get).
    budgets: { maxEventLoopLagMs: 0 },
  });
  return {
    gateway,
    url: gateway.url,
    close: async () => {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** text-direction's image plan (the model the image surface decodes for). */
export function textDirectionPlan(): ImagePlan {
  const config = parseModelConfig('text-direction', JSON.parse(readFileSync(join(exampleRepository(), 'text-direction', 'config.json'), 'utf8')));
  return imagePlans(config).get('image')!;
}

export interface FuzzControlPlane {
  /** yoga's fetch: the in-process way in, the same handler the HTTP server calls. */
  fetch(request: Request): Promise<Response>;
  url: string;
  token: string;
  close(): Promise<void>;
}

export async function startFuzzControlPlane(): Promise<FuzzControlPlane> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-fuzz-cp-'));
  const logger = createLogger('fuzz', 'silent');
  const services = await ControlPlaneServices.open({ dataDir, maxArtifactBytes: 1024 * 1024 });
  const token = 'fuzz-admin-token-0123456789abcdef';
  await services.bootstrapAdmin(token, logger);
  const graphql = createGraphQL({
    services,
    logger,
    limits: DEFAULT_GRAPHQL_LIMITS,
    maxBodyBytes: 1024 * 1024,
    maxArtifactBytes: 1024 * 1024,
    graphiql: false,
    heartbeatIntervalSeconds: 5,
  });
  const { server, url } = await listen({ host: '127.0.0.1', port: 0, services, graphql, graphiql: false, maxBodyBytes: 1024 * 1024, logger });
  return {
    fetch: async (request) => graphql.fetch(request, { requestId: 'fuzz', clientAddress: '127.0.0.1', baseUrl: url }),
    url,
    token,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await graphql.dispose();
      await services.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
