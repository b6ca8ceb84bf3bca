import { Repeater } from 'graphql-yoga';
import { SluiceError } from '../../lib/errors.js';
import { LATENCY_BUCKETS_MS } from '../../lib/sync-wire.js';
import type { PageArgs } from '../services/pagination.js';
import { armFigures } from '../services/rollout-analysis.js';
import type { StartRolloutInput } from '../services/rollout-spec.js';
import type { AnalysisRun, Rollout } from '../services/rollouts.js';
import { histogramQuantile, maxOutputPsi, type VersionTraffic } from '../services/traffic.js';
import { authorize, type GraphQLContext } from './context.js';

const MAX_RUNS = 1000;

async function found(ctx: GraphQLContext, id: string): Promise<Rollout> {
  const r = await ctx.services.rollouts.get(id);
  if (!r) throw new SluiceError('SLUICE_E_ROLLOUT_NOT_FOUND', `no rollout ${id}`, { details: { rollout: id } });
  return r;
}

function arm(t: VersionTraffic) {
  const figures = armFigures(t, true);
  const latency = t.latency.map((v, i) => v + (t.mirroredLatency[i] ?? 0));
  return { ...figures, p90Ms: histogramQuantile(latency, 0.9), latency, outputs: [...t.outputs].map(([feature, counts]) => ({ feature, counts })) };
}

/** The rollout now, then at each change; a change elsewhere (`*`) or of this id re-reads it, and an unchanged row is not sent again. */
function rolloutChanges(ctx: GraphQLContext, id: string): Repeater<Rollout> {
  return new Repeater<Rollout>(async (push, stop) => {
    let last = '';
    let chain = Promise.resolve();
    const refresh = () => {
      chain = chain
        .then(async () => {
          const r = await found(ctx, id);
          if (r.updatedAt === last) return;
          last = r.updatedAt;
          await push(r);
        })
        .catch((err: unknown) => stop(err));
    };
    const unsubscribe = ctx.services.rollouts.onRolloutChange((changed) => {
      if (changed === id || changed === '*') refresh();
    });
    refresh();
    await stop;
    unsubscribe();
  });
}

export const rolloutResolvers = {
  Query: {
    async rollouts(_: unknown, args: PageArgs & { model?: string | null }, ctx: GraphQLContext) {
      await authorize(ctx, 'rollout:read', 'rollout.list', args.model ? `model/${args.model}` : 'rollouts');
      return ctx.services.rollouts.list(args.model, args);
    },
    async rollout(_: unknown, args: { id: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'rollout:read', 'rollout.read', `rollout/${args.id}`);
      return ctx.services.rollouts.get(args.id);
    },
    async rolloutComparison(_: unknown, args: { id: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'rollout:read', 'rollout.read', `rollout/${args.id}`);
      const rollout = await ctx.services.rollouts.get(args.id);
      if (!rollout) return null;
      const { stable, candidate, from, to } = await ctx.services.rollouts.comparison(rollout);
      const psi = maxOutputPsi(stable, candidate);
      const compared = stable.compared + candidate.compared;
      return {
        rollout,
        from,
        to,
        latencyBucketsMs: LATENCY_BUCKETS_MS,
        stable: arm(stable),
        candidate: arm(candidate),
        outputPsi: psi?.value ?? null,
        outputPsiFeature: psi?.feature ?? null,
        agreement: compared > 0 ? (stable.agreed + candidate.agreed) / compared : null,
      };
    },
  },
  Mutation: {
    async startRollout(_: unknown, { input }: { input: StartRolloutInput }, ctx: GraphQLContext) {
      if (input.gateOverride != null) await authorize(ctx, 'gate:override', 'gate.override', `model/${input.model}/version/${input.candidate}`);
      await authorize(ctx, 'rollout:write', 'rollout.start', `model/${input.model}`);
      return ctx.services.rollouts.start(ctx.call, input);
    },
    async promoteRollout(_: unknown, args: { id: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'rollout:write', 'rollout.promote', `rollout/${args.id}`);
      return ctx.services.rollouts.promote(ctx.call, args.id);
    },
    async pauseRollout(_: unknown, args: { id: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'rollout:write', 'rollout.pause', `rollout/${args.id}`);
      return ctx.services.rollouts.pause(ctx.call, args.id);
    },
    async resumeRollout(_: unknown, args: { id: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'rollout:write', 'rollout.resume', `rollout/${args.id}`);
      return ctx.services.rollouts.resume(ctx.call, args.id);
    },
    async abortRollout(_: unknown, args: { id: string; reason?: string | null }, ctx: GraphQLContext) {
      await authorize(ctx, 'rollout:write', 'rollout.abort', `rollout/${args.id}`);
      return ctx.services.rollouts.abort(ctx.call, args.id, args.reason);
    },
  },
  Subscription: {
    rolloutChanged: {
      async subscribe(_: unknown, args: { id: string }, ctx: GraphQLContext) {
        await authorize(ctx, 'rollout:read', 'rollout.read', `rollout/${args.id}`);
        await found(ctx, args.id);
        return rolloutChanges(ctx, args.id);
      },
      resolve: (r: Rollout) => r,
    },
  },
  Rollout: {
    currentStep: (r: Rollout) => r.stepIndex,
    steps: (r: Rollout) => r.spec.steps,
    analysis: (r: Rollout) => r.spec.analysis,
    mirrorShare: (r: Rollout) => (r.strategy === 'CANARY' || r.strategy === 'SHADOW' ? r.spec.mirrorShare : 0),
    agreementTolerance: (r: Rollout) => r.spec.agreementTolerance,
    scaleDownDelaySeconds: (r: Rollout) => (r.strategy === 'BLUE_GREEN' ? r.spec.scaleDownDelaySeconds : null),
    autoPromotionSeconds: (r: Rollout) => r.spec.autoPromotionSeconds,
    weights: (r: Rollout) => [
      { version: r.stable, weight: 100 - r.weight },
      { version: r.candidate, weight: r.weight },
    ],
    analysisRuns(r: Rollout, args: { last?: number | null }, ctx: GraphQLContext) {
      const last = args.last ?? undefined;
      if (last !== undefined && (!Number.isInteger(last) || last < 1 || last > MAX_RUNS)) {
        throw new SluiceError('SLUICE_E_VALIDATION', `last must be between 1 and ${MAX_RUNS}`, { details: { argument: 'last' } });
      }
      return ctx.services.rollouts.analysisRuns(r.id, last ?? MAX_RUNS);
    },
  },
  ArmFigures: {
    // Runs stored before refusals were counted apart have none.
    refused: (f: { refused?: number }) => f.refused ?? 0,
  },
  AnalysisRun: {
    candidate: (a: AnalysisRun) => a.measurements.candidate,
    stable: (a: AnalysisRun) => a.measurements.stable,
    gateways: (a: AnalysisRun) => a.measurements.gateways,
    p99Ratio: (a: AnalysisRun) => a.measurements.p99Ratio,
    compared: (a: AnalysisRun) => a.measurements.compared,
    agreement: (a: AnalysisRun) => a.measurements.agreement,
    outputPsi: (a: AnalysisRun) => a.measurements.outputPsi,
    outputPsiFeature: (a: AnalysisRun) => a.measurements.outputPsiFeature,
    conditions: (a: AnalysisRun) => a.measurements.conditions,
  },
};
