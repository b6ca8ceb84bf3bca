// The GraphQL endpoint: yoga with the control plane's schema, authentication in the context factory
// (every operation needs a bearer token), and the hostile-input plugins.
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { SluiceError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { controlPlaneSchema } from '../resolvers/index.js';
import type { GraphQLContext, RequestScope } from '../resolvers/context.js';
import type { ControlPlaneServices } from '../services/control-plane.js';
import { maskedErrors, useValidationErrorCodes } from '../plugins/mask-error.js';
import { useArmor, type GraphQLLimits } from '../plugins/use-armor.js';
import { useCsrfPrevention } from '../plugins/use-csrf-prevention.js';
import { useRequestLimits } from '../plugins/use-request-limits.js';
import { useStagedUploads } from '../plugins/use-staged-uploads.js';
import { useTracing } from '../plugins/use-tracing.js';
import { authenticateBearer } from './authenticate.js';
import { renderGraphiQLPage } from './graphiql.js';

export interface GraphQLOptions {
  services: ControlPlaneServices;
  logger: Logger;
  limits: GraphQLLimits;
  maxBodyBytes: number;
  maxArtifactBytes: number;
  graphiql: boolean;
  heartbeatIntervalSeconds: number;
}

export function createGraphQL(options: GraphQLOptions): YogaServerInstance<RequestScope, GraphQLContext> {
  const { services, logger } = options;
  return createYoga<RequestScope, GraphQLContext>({
    schema: controlPlaneSchema(),
    graphqlEndpoint: '/graphql',
    graphiql: options.graphiql ? { title: 'Sluice control plane', headers: JSON.stringify({ Authorization: 'Bearer <token>' }) } : false,
    renderGraphiQL: renderGraphiQLPage,
    landingPage: false,
    // yoga caches 1,024 parsed and validated documents whatever their size: the fuzzer's hostile
    // documents (bench/fuzz) grew the heap by 150 MiB through it in 3,000 requests. Control traffic
    // gains little from it (parse + validate of a sync query is well under a millisecond).
    parserAndValidationCache: false,
    maskedErrors: maskedErrors(logger),
    // Multipart bodies (artifacts) are read by server/graphql-upload.ts before yoga and arrive here
    // parsed (yoga's check still sees their declared length); everything else is held to
    // maxBodyBytes by useRequestLimits.
    maxRequestBodySize: options.maxArtifactBytes + 1024 * 1024,
    logging: {
      debug: (...args: unknown[]) => logger.debug({ yoga: args }, 'graphql'),
      info: (...args: unknown[]) => logger.info({ yoga: args }, 'graphql'),
      warn: (...args: unknown[]) => logger.warn({ yoga: args }, 'graphql'),
      // yoga logs every error it masks or rewrites; the unexpected ones are logged by maskedErrors already.
      error: (...args: unknown[]) => logger.debug({ yoga: args }, 'graphql'),
    },
    plugins: [
      useStagedUploads(), useRequestLimits({ maxBodyBytes: options.maxBodyBytes }), useCsrfPrevention(), useArmor(options.limits), useValidationErrorCodes(),
      ...(services.tracing.enabled ? [useTracing(services.tracing)] : []),
    ],
    context: async ({ request, requestId, clientAddress, baseUrl, upload }): Promise<GraphQLContext> => {
      const actor = upload?.actor ?? (await authenticateBearer(services, request.headers.get('authorization'), { request: { requestId, clientAddress }, action: 'graphql' }));
      if (!actor) throw new SluiceError('SLUICE_E_AUTH_MISSING', 'send Authorization: Bearer <token>');
      return {
        services,
        call: { actor, request: { requestId, clientAddress } },
        baseUrl,
        heartbeatIntervalSeconds: options.heartbeatIntervalSeconds,
      };
    },
  });
}
