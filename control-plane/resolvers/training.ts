import { SluiceError } from '../../lib/errors.js';
import type { PageArgs } from '../services/pagination.js';
import type { SubmitInput, TrainingJob } from '../services/training.js';
import type { FinishInput, ProgressInput } from '../services/training-runs.js';
import { authorize, type GraphQLContext } from './context.js';

interface FileUpload {
  arrayBuffer(): Promise<ArrayBuffer>;
}

async function fileBytes(file: FileUpload | null | undefined, field: string): Promise<Uint8Array | undefined> {
  if (file === undefined || file === null) return undefined;
  if (typeof (file as Partial<FileUpload>).arrayBuffer !== 'function') {
    throw new SluiceError('SLUICE_E_VALIDATION', `${field} must be a file sent as a multipart upload`, { details: { field } });
  }
  return new Uint8Array(await file.arrayBuffer());
}

function metricList(metrics: Record<string, number>) {
  return Object.entries(metrics).map(([name, value]) => ({ name, value }));
}

/** The subscription's events for as long as the client listens or the job runs. */
async function* jobEvents(ctx: GraphQLContext, id: string) {
  const abort = new AbortController();
  try {
    yield* ctx.services.training.watch(id, abort.signal);
  } finally {
    abort.abort();
  }
}

export const trainingResolvers = {
  Query: {
    async trainingJobs(_: unknown, args: PageArgs & { model?: string | null; status?: string | null }, ctx: GraphQLContext) {
      await authorize(ctx, 'training:read', 'training_job.list', args.model ? `model/${args.model}` : 'training-jobs');
      return ctx.services.training.jobs({ model: args.model, status: args.status }, args);
    },
    async trainingJob(_: unknown, args: { id: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'training:read', 'training_job.read', `training-job/${args.id}`);
      return ctx.services.training.job(args.id);
    },
    async dataSchema(_: unknown, args: { model: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'registry:read', 'model.read', `model/${args.model}`);
      return ctx.services.training.dataSchema(args.model);
    },
  },
  Mutation: {
    async submitTrainingJob(_: unknown, { input }: { input: SubmitInput }, ctx: GraphQLContext) {
      await authorize(ctx, 'training:write', 'training_job.submit', `model/${input.model}`);
      return ctx.services.training.submit(ctx.call, input);
    },
    async cancelTrainingJob(_: unknown, args: { id: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'training:write', 'training_job.cancel', `training-job/${args.id}`);
      return ctx.services.training.cancel(ctx.call, args.id);
    },
    async retryTrainingJob(_: unknown, args: { id: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'training:write', 'training_job.retry', `training-job/${args.id}`);
      return ctx.services.training.retry(ctx.call, args.id);
    },
    async setDataSchema(_: unknown, args: { model: string; schema: unknown }, ctx: GraphQLContext) {
      await authorize(ctx, 'registry:write', 'model.set_data_schema', `model/${args.model}`);
      return ctx.services.training.setDataSchema(ctx.call, args.model, args.schema);
    },
    async claimTrainingJob(_: unknown, { input }: { input: { runner: string; labels?: string[] | null; region?: string | null } }, ctx: GraphQLContext) {
      await authorize(ctx, 'training:run', 'training_job.claim', 'training-jobs');
      if (input.runner.length === 0 || input.runner.length > 128) throw new SluiceError('SLUICE_E_VALIDATION', 'runner: 1-128 characters', { details: { field: 'runner' } });
      return ctx.services.trainingRuns.claim(ctx.call, { name: input.runner, labels: input.labels ?? [], region: input.region });
    },
    async renewTrainingLease(_: unknown, { input }: { input: { jobId: string; attempt: number } }, ctx: GraphQLContext) {
      await authorize(ctx, 'training:run', 'training_job.renew', `training-job/${input.jobId}`);
      return ctx.services.trainingRuns.renew(ctx.call, input.jobId, input.attempt);
    },
    async reportTrainingProgress(_: unknown, { input }: { input: ProgressInput }, ctx: GraphQLContext) {
      await authorize(ctx, 'training:run', 'training_job.report', `training-job/${input.jobId}`);
      return ctx.services.trainingRuns.progress(ctx.call, input);
    },
    async finishTrainingAttempt(_: unknown, { input }: { input: Omit<FinishInput, 'model' | 'profile'> & { model?: FileUpload | null; profile?: FileUpload | null } }, ctx: GraphQLContext) {
      await authorize(ctx, 'training:run', 'training_job.finish', `training-job/${input.jobId}`);
      const { model, profile, ...rest } = input;
      return ctx.services.trainingRuns.finish(ctx.call, { ...rest, model: await fileBytes(model, 'model'), profile: await fileBytes(profile, 'profile') });
    },
  },
  Subscription: {
    trainingJobChanged: {
      async subscribe(_: unknown, args: { id: string }, ctx: GraphQLContext) {
        await authorize(ctx, 'training:read', 'training_job.read', `training-job/${args.id}`);
        if (!(await ctx.services.training.job(args.id))) throw new SluiceError('SLUICE_E_TRAINING_JOB_NOT_FOUND', `no training job ${args.id}`, { details: { id: args.id } });
        return jobEvents(ctx, args.id);
      },
      resolve: (event: unknown) => event,
    },
  },
  TrainingJob: {
    model: (j: TrainingJob) => j.modelName,
    trainer: (j: TrainingJob) => (j.trainer.kind === 'builtin' ? { kind: 'builtin', builtin: j.trainer.builtin, digest: j.trainer.digest } : { kind: 'command', command: j.trainer.command, digest: j.trainer.digest }),
    metrics: (j: TrainingJob) => metricList(j.metrics),
    attempts: (j: TrainingJob, _: unknown, ctx: GraphQLContext) => ctx.services.training.attempts(j.id),
    version: (j: TrainingJob, _: unknown, ctx: GraphQLContext) => (j.versionNumber === null ? null : ctx.services.registry.version(j.modelName, j.versionNumber)),
    parent: (j: TrainingJob, _: unknown, ctx: GraphQLContext) => (j.parentId === null ? null : ctx.services.training.job(j.parentId)),
    trials: (j: TrainingJob, _: unknown, ctx: GraphQLContext) => (j.sweep === null ? [] : ctx.services.training.trials(j.id)),
    bestTrial: (j: TrainingJob, _: unknown, ctx: GraphQLContext) => (j.bestTrialId === null ? null : ctx.services.training.job(j.bestTrialId)),
    logs: (j: TrainingJob, args: { after?: number | null; first?: number | null }, ctx: GraphQLContext) => ctx.services.training.logs(j.id, args.after ?? 0, args.first ?? 1000),
  },
};
