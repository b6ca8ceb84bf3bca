import type { Model } from '../services/registry.js';
import { authorize, type GraphQLContext } from './context.js';

export const residencyResolvers = {
  Mutation: {
    async setModelRegions(_: unknown, { input }: { input: { model: string; regions?: string[] | null } }, ctx: GraphQLContext) {
      await authorize(ctx, 'residency:write', 'model.set_regions', `model/${input.model}`);
      await ctx.services.residency.setRegions(ctx.call, input.model, input.regions ?? null);
      return ctx.services.registry.model(input.model);
    },
  },
  Model: {
    allowedRegions: (m: Model, _: unknown, ctx: GraphQLContext) => ctx.services.residency.regionsOf(m.name),
  },
};
