import type { ModelVersion } from '../services/registry.js';
import { authorize, type GraphQLContext } from './context.js';

export const driftResolvers = {
  ModelVersion: {
    async currentDrift(v: ModelVersion, args: { seconds: number }, ctx: GraphQLContext) {
      await authorize(ctx, 'alert:read', 'drift.current', `model/${v.modelName}/${v.number}`);
      return ctx.services.driftHistograms.current(v.modelName, v.number, args.seconds);
    },
  },
};
