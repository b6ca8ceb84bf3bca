import { SluiceError } from '../../lib/errors.js';
import { modelTimeline } from '../services/timeline.js';
import { authorize, type GraphQLContext } from './context.js';

const MAX_LAST = 1000;

function last(value: number | null | undefined, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > MAX_LAST) throw new SluiceError('SLUICE_E_VALIDATION', `last: must be an integer from 1 to ${MAX_LAST}`, { details: { field: 'last' } });
  return value;
}

async function model(ctx: GraphQLContext, name: string): Promise<void> {
  if (!(await ctx.services.registry.model(name))) throw new SluiceError('SLUICE_E_MODEL_NOT_FOUND', `no model ${name}`, { details: { model: name } });
}

export const retrainingResolvers = {
  Query: {
    async retrainingPolicy(_: unknown, args: { model: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'retrain:read', 'retraining.read', `model/${args.model}`);
      return ctx.services.retraining.policy(args.model);
    },
    async retrainingPolicies(_: unknown, args: { model: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'retrain:read', 'retraining.read', `model/${args.model}`);
      return ctx.services.retraining.policies(args.model);
    },
    async retrainingState(_: unknown, args: { model: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'retrain:read', 'retraining.read', `model/${args.model}`);
      await model(ctx, args.model);
      return ctx.services.retraining.loopState(args.model);
    },
    async retrainingRuns(_: unknown, args: { model?: string | null; last?: number | null }, ctx: GraphQLContext) {
      await authorize(ctx, 'retrain:read', 'retraining.read', args.model ? `model/${args.model}` : 'retraining');
      return ctx.services.retraining.runs(args.model, last(args.last, 50));
    },
    async retrainingRun(_: unknown, args: { id: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'retrain:read', 'retraining.read', `retraining-run/${args.id}`);
      return ctx.services.retraining.run(args.id);
    },
    async modelTimeline(_: unknown, args: { model: string; last?: number | null }, ctx: GraphQLContext) {
      await authorize(ctx, 'retrain:read', 'timeline.read', `model/${args.model}`);
      await model(ctx, args.model);
      const s = ctx.services;
      return modelTimeline({ store: s.store, alerts: s.alerts, gates: s.gates, retraining: s.retraining }, args.model, last(args.last, 200));
    },
  },
  Mutation: {
    async setRetrainingPolicy(_: unknown, args: { model: string; policy: unknown }, ctx: GraphQLContext) {
      await authorize(ctx, 'retrain:write', 'retraining.policy.set', `model/${args.model}`);
      return ctx.services.retraining.setPolicy(ctx.call, args.model, args.policy);
    },
    async pauseRetraining(_: unknown, args: { model: string; reason?: string | null }, ctx: GraphQLContext) {
      await authorize(ctx, 'retrain:write', 'retraining.pause', `model/${args.model}`);
      return ctx.services.retraining.setPaused(ctx.call, args.model, true, args.reason);
    },
    async resumeRetraining(_: unknown, args: { model: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'retrain:write', 'retraining.resume', `model/${args.model}`);
      return ctx.services.retraining.setPaused(ctx.call, args.model, false, null);
    },
    async stopRetrainingRun(_: unknown, args: { id: string; reason?: string | null }, ctx: GraphQLContext) {
      await authorize(ctx, 'retrain:write', 'retraining.stop', `retraining-run/${args.id}`);
      return ctx.services.retraining.stop(ctx.call, args.id, args.reason);
    },
  },
};
