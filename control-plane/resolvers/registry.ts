import { SluiceError } from '../../lib/errors.js';
import { StagedArtifact } from '../services/artifact-store.js';
import type { Alias, Model, ModelVersion } from '../services/registry.js';
import type { PageArgs } from '../services/pagination.js';
import { authorize, keyValues, type GraphQLContext } from './context.js';
import { STALE_AFTER_INTERVALS } from '../services/fleet.js';

interface FileUpload {
  arrayBuffer(): Promise<ArrayBuffer>;
}

// The HTTP layer has already streamed each multipart file into the artifact store's temporary
// folder (server/graphql-upload.ts); the staged file goes on as it is, never whole in memory.
// The File scalar also accepts a plain JSON value in `variables`; that is not an upload.
function stagedArtifact(file: FileUpload): StagedArtifact {
  if (!(file instanceof StagedArtifact)) {
    throw new SluiceError('SLUICE_E_VALIDATION', 'artifact must be a file sent as a multipart upload (the "map" field points it at variables.input.artifact)', { details: { field: 'artifact' } });
  }
  return file;
}

async function optionalFile(file: FileUpload | null | undefined, field: string): Promise<Uint8Array | undefined> {
  if (file === undefined || file === null) return undefined;
  if (typeof (file as Partial<FileUpload>).arrayBuffer !== 'function') {
    throw new SluiceError('SLUICE_E_VALIDATION', `${field} must be a file sent as a multipart upload`, { details: { field } });
  }
  return new Uint8Array(await file.arrayBuffer());
}

type Args<T> = { input: T };

export const registryResolvers = {
  Query: {
    async models(_: unknown, args: PageArgs & { filter?: { owner?: string | null } | null }, ctx: GraphQLContext) {
      await authorize(ctx, 'registry:read', 'model.list', 'models');
      return ctx.services.registry.models(args, args.filter ?? {});
    },
    async model(_: unknown, args: { name: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'registry:read', 'model.read', `model/${args.name}`);
      return ctx.services.registry.model(args.name);
    },
    async modelVersion(_: unknown, args: { model: string; version: number }, ctx: GraphQLContext) {
      await authorize(ctx, 'registry:read', 'model_version.read', `model/${args.model}/version/${args.version}`);
      return ctx.services.registry.version(args.model, args.version);
    },
    async registryPublicKey(_: unknown, _args: unknown, ctx: GraphQLContext) {
      await authorize(ctx, 'key:read', 'key.read', 'registry-key');
      return { keyId: ctx.services.key.keyId, publicKeyPem: ctx.services.key.publicKeyPem };
    },
  },
  Mutation: {
    async createModel(_: unknown, { input }: Args<{ name: string; description?: string | null; owner?: string | null; tags?: unknown }>, ctx: GraphQLContext) {
      await authorize(ctx, 'registry:write', 'model.create', `model/${input.name}`);
      return ctx.services.registry.createModel(ctx.call, input);
    },
    async updateModel(_: unknown, { input }: Args<{ name: string; description?: string | null; owner?: string | null; tags?: unknown }>, ctx: GraphQLContext) {
      await authorize(ctx, 'registry:write', 'model.update', `model/${input.name}`);
      return ctx.services.registry.updateModel(ctx.call, input);
    },
    async createModelVersion(
      _: unknown,
      { input }: Args<{ model: string; artifact: FileUpload; config?: FileUpload | null; profile?: FileUpload | null; allowDuplicate?: boolean | null; description?: string | null; metrics?: unknown; lineage?: unknown }>,
      ctx: GraphQLContext,
    ) {
      await authorize(ctx, 'registry:write', 'model_version.create', `model/${input.model}`);
      // Lineage naming a training job is written by the job's own finish (services/training-runs.ts),
      // which checks it; an upload by hand may not claim one.
      if ((input.lineage as { trainingJob?: unknown } | null | undefined)?.trainingJob != null) {
        throw new SluiceError('SLUICE_E_VALIDATION', 'lineage.trainingJob is recorded by training jobs; an uploaded version cannot claim one', { details: { field: 'lineage.trainingJob' } });
      }
      return ctx.services.uploadVersion(ctx.call, {
        model: input.model,
        artifact: stagedArtifact(input.artifact),
        config: await optionalFile(input.config, 'config'),
        profile: await optionalFile(input.profile, 'profile'),
        allowDuplicate: input.allowDuplicate === true,
        description: input.description,
        metrics: input.metrics ?? undefined,
        lineage: input.lineage ?? undefined,
      });
    },
    async setModelVersionStatus(_: unknown, { input }: Args<{ model: string; version: number; status: string }>, ctx: GraphQLContext) {
      await authorize(ctx, 'registry:write', 'model_version.set_status', `model/${input.model}/version/${input.version}`);
      return ctx.services.registry.setVersionStatus(ctx.call, input.model, input.version, input.status);
    },
    async setAlias(_: unknown, { input }: Args<{ model: string; alias: string; version: number; gateOverride?: string | null }>, ctx: GraphQLContext) {
      if (input.gateOverride != null) await authorize(ctx, 'gate:override', 'gate.override', `model/${input.model}/version/${input.version}`);
      await authorize(ctx, 'alias:write', 'alias.set', `model/${input.model}/alias/${input.alias}`);
      return ctx.services.registry.setAlias(ctx.call, input.model, input.alias, input.version, input.gateOverride);
    },
    async deleteAlias(_: unknown, { input }: Args<{ model: string; alias: string }>, ctx: GraphQLContext) {
      await authorize(ctx, 'alias:write', 'alias.delete', `model/${input.model}/alias/${input.alias}`);
      return { deleted: await ctx.services.registry.deleteAlias(ctx.call, input.model, input.alias) };
    },
  },
  Model: {
    tags: (m: Model) => keyValues(m.tags),
    versions: (m: Model, args: PageArgs & { status?: string | null }, ctx: GraphQLContext) => ctx.services.registry.versions(m, args, args.status),
    version: (m: Model, args: { number: number }, ctx: GraphQLContext) => ctx.services.registry.version(m.name, args.number),
    aliases: (m: Model, _: unknown, ctx: GraphQLContext) => ctx.services.registry.aliases(m.id),
  },
  ModelVersion: {
    model: (v: ModelVersion, _: unknown, ctx: GraphQLContext) => ctx.services.registry.model(v.modelName),
    async artifact(v: ModelVersion, _: unknown, ctx: GraphQLContext) {
      const a = await ctx.services.registry.artifact(v.sha256);
      return { ...a, downloadUrl: `${ctx.baseUrl}/artifacts/${v.sha256}` };
    },
    metrics: (v: ModelVersion) => Object.entries(v.metrics).map(([name, value]) => ({ name, value })),
    async config(v: ModelVersion, _: unknown, ctx: GraphQLContext) {
      if (v.configSha256 === null) return null;
      return { ...(await ctx.services.registry.artifact(v.configSha256)), downloadUrl: `${ctx.baseUrl}/artifacts/${v.configSha256}` };
    },
    async profile(v: ModelVersion, _: unknown, ctx: GraphQLContext) {
      if (v.profileSha256 === null) return null;
      return { ...(await ctx.services.registry.artifact(v.profileSha256)), downloadUrl: `${ctx.baseUrl}/artifacts/${v.profileSha256}` };
    },
    async fleet(v: ModelVersion, _: unknown, ctx: GraphQLContext) {
      await authorize(ctx, 'gateway:read', 'gateway.list', 'gateways');
      return ctx.services.gateways.versionStates(v.modelName, v.number, STALE_AFTER_INTERVALS * ctx.heartbeatIntervalSeconds * 1000);
    },
    async aliases(v: ModelVersion, _: unknown, ctx: GraphQLContext) {
      return (await ctx.services.registry.aliases(v.modelId)).filter((a) => a.versionId === v.id).map((a) => a.name);
    },
  },
  Alias: {
    version: (a: Alias, _: unknown, ctx: GraphQLContext) => ctx.services.registry.version(a.modelName, a.versionNumber),
  },
};
