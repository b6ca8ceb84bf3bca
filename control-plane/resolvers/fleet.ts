import type { Gateway } from '../services/gateways.js';
import type { Model } from '../services/registry.js';
import { STALE_AFTER_INTERVALS, type RecentTraffic } from '../services/fleet.js';
import { authorize, type GraphQLContext } from './context.js';

/**
 * One query per request and range for every gateway a list shows, not one per gateway: the
 * answer is kept on the request's context object.
 */
const recentByRequest = new WeakMap<GraphQLContext, Map<number, Promise<Map<string, RecentTraffic>>>>();

function recentOf(ctx: GraphQLContext, seconds: number): Promise<Map<string, RecentTraffic>> {
  let bySeconds = recentByRequest.get(ctx);
  if (!bySeconds) recentByRequest.set(ctx, (bySeconds = new Map()));
  let pending = bySeconds.get(seconds);
  if (!pending) bySeconds.set(seconds, (pending = ctx.services.fleet.recentByGateway(seconds)));
  return pending;
}

export const fleetResolvers = {
  Query: {
    async modelFleet(_: unknown, args: { model: string; seconds: number }, ctx: GraphQLContext) {
      await authorize(ctx, 'gateway:read', 'model.fleet', `model/${args.model}`);
      return ctx.services.fleet.modelFleet(args.model, args.seconds, STALE_AFTER_INTERVALS * ctx.heartbeatIntervalSeconds * 1000);
    },
  },
  Mutation: {
    async setModelPlacement(_: unknown, { input }: { input: { model: string; selector?: string | null } }, ctx: GraphQLContext) {
      await authorize(ctx, 'placement:write', 'model.set_placement', `model/${input.model}`);
      await ctx.services.placement.setPlacement(ctx.call, input.model, input.selector ?? null);
      return ctx.services.registry.model(input.model);
    },
  },
  Model: {
    placement: (m: Model, _: unknown, ctx: GraphQLContext) => ctx.services.placement.placementOf(m.name),
  },
  Gateway: {
    async recent(g: Gateway, args: { seconds: number }, ctx: GraphQLContext): Promise<RecentTraffic> {
      const recent = (await recentOf(ctx, args.seconds)).get(g.name);
      return recent ?? { seconds: args.seconds, calls: 0, errors: 0, callsPerSecond: 0, errorRate: null, p99Ms: null };
    },
  },
};
