import { createSchema } from 'graphql-yoga';
import { commonTypeDefs } from '../schema/common.js';
import { registryTypeDefs } from '../schema/registry.js';
import { tokenTypeDefs } from '../schema/tokens.js';
import { auditTypeDefs } from '../schema/audit.js';
import { gatewayTypeDefs } from '../schema/gateways.js';
import { trainingTypeDefs } from '../schema/training.js';
import { rolloutTypeDefs } from '../schema/rollouts.js';
import { gateTypeDefs } from '../schema/gates.js';
import { alertTypeDefs } from '../schema/alerts.js';
import { alertResolvers } from './alerts.js';
import { retrainingTypeDefs } from '../schema/retraining.js';
import { retrainingResolvers } from './retraining.js';
import { modelRecordTypeDefs } from '../schema/model-record.js';
import { modelRecordResolvers } from './model-record.js';
import { auditResolvers } from './audit.js';
import type { GraphQLContext, RequestScope } from './context.js';
import { gateResolvers } from './gates.js';
import { gatewayResolvers } from './gateways.js';
import { registryResolvers } from './registry.js';
import { rolloutResolvers } from './rollouts.js';
import { enumResolvers, scalarResolvers } from './scalars.js';
import { tokenResolvers } from './tokens.js';
import { trainingResolvers } from './training.js';
import { residencyTypeDefs } from '../schema/residency.js';
import { residencyResolvers } from './residency.js';
import { fleetTypeDefs } from '../schema/fleet.js';
import { fleetResolvers } from './fleet.js';
import { registryKeyTypeDefs } from '../schema/registry-key.js';
import { registryKeyResolvers } from './registry-key.js';
import { driftTypeDefs } from '../schema/drift.js';
import { driftResolvers } from './drift.js';

export function controlPlaneSchema() {
  return createSchema<GraphQLContext & RequestScope>({
    typeDefs: [commonTypeDefs, registryTypeDefs, tokenTypeDefs, auditTypeDefs, gatewayTypeDefs, trainingTypeDefs, rolloutTypeDefs, gateTypeDefs, alertTypeDefs, retrainingTypeDefs, residencyTypeDefs, fleetTypeDefs, registryKeyTypeDefs, modelRecordTypeDefs, driftTypeDefs],
    resolvers: [scalarResolvers, enumResolvers, registryResolvers, tokenResolvers, auditResolvers, gatewayResolvers, trainingResolvers, rolloutResolvers, gateResolvers, alertResolvers, retrainingResolvers, residencyResolvers, fleetResolvers, registryKeyResolvers, modelRecordResolvers, driftResolvers],
  });
}
