import { SluiceError } from '../../lib/errors.js';
import type { PromotionApproval } from '../services/gates.js';
import type { ModelVersion } from '../services/registry.js';
import { authorize, type GraphQLContext } from './context.js';

interface FileUpload {
  arrayBuffer(): Promise<ArrayBuffer>;
}

async function uploadedBytes(file: FileUpload): Promise<Uint8Array> {
  if (typeof (file as Partial<FileUpload> | null)?.arrayBuffer !== 'function') {
    throw new SluiceError('SLUICE_E_VALIDATION', 'file must be a CSV sent as a multipart upload (the "map" field points it at variables.input.file)', { details: { field: 'file' } });
  }
  return new Uint8Array(await file.arrayBuffer());
}

export const gateResolvers = {
  Query: {
    async promotionPolicy(_: unknown, args: { model: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'gate:read', 'gate.policy.read', `model/${args.model}/promotion-policy`);
      return ctx.services.gates.policy(args.model);
    },
    async promotionPolicyHistory(_: unknown, args: { model: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'gate:read', 'gate.policy.read', `model/${args.model}/promotion-policy`);
      return ctx.services.gates.policyHistory(args.model);
    },
    async gateReports(_: unknown, args: { model: string; version?: number | null }, ctx: GraphQLContext) {
      await authorize(ctx, 'gate:read', 'gate.report.list', `model/${args.model}`);
      const reports = await ctx.services.gates.reports(args.model);
      return args.version == null ? reports : reports.filter((r) => r.version === args.version);
    },
    async datasets(_: unknown, args: { model: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'gate:read', 'dataset.list', `model/${args.model}`);
      return ctx.services.gates.datasets.list(args.model);
    },
  },
  Mutation: {
    async setPromotionPolicy(_: unknown, { input }: { input: { model: string; policy: unknown } }, ctx: GraphQLContext) {
      await authorize(ctx, 'gate:policy', 'gate.policy.set', `model/${input.model}/promotion-policy`);
      return ctx.services.gates.setPolicy(ctx.call, input.model, input.policy);
    },
    async evaluateGates(_: unknown, args: { model: string; version: number }, ctx: GraphQLContext) {
      await authorize(ctx, 'gate:run', 'gate.evaluate', `model/${args.model}/version/${args.version}`);
      return ctx.services.gates.evaluate(ctx.call, args.model, args.version);
    },
    async uploadDataset(_: unknown, { input }: { input: { model: string; name: string; file: FileUpload } }, ctx: GraphQLContext) {
      await authorize(ctx, 'dataset:write', 'dataset.create', `model/${input.model}/dataset/${input.name}`);
      return ctx.services.gates.datasets.register(ctx.call, { model: input.model, name: input.name, content: await uploadedBytes(input.file) });
    },
    async registerDataset(_: unknown, { input }: { input: { model: string; name: string; csv: string } }, ctx: GraphQLContext) {
      await authorize(ctx, 'dataset:write', 'dataset.create', `model/${input.model}/dataset/${input.name}`);
      return ctx.services.gates.datasets.register(ctx.call, { model: input.model, name: input.name, content: new TextEncoder().encode(input.csv) });
    },
    async approvePromotion(_: unknown, { input }: { input: { model: string; version: number; comment?: string | null } }, ctx: GraphQLContext) {
      await authorize(ctx, 'promotion:approve', 'promotion.approve', `model/${input.model}/version/${input.version}`);
      return ctx.services.gates.approve(ctx.call, input.model, input.version, input.comment);
    },
  },
  ModelVersion: {
    async gateReport(v: ModelVersion, _: unknown, ctx: GraphQLContext) {
      await authorize(ctx, 'gate:read', 'gate.report.read', `model/${v.modelName}/version/${v.number}`);
      return ctx.services.gates.latestReport(v.modelName, v.number);
    },
    async approvals(v: ModelVersion, _: unknown, ctx: GraphQLContext) {
      await authorize(ctx, 'gate:read', 'gate.report.read', `model/${v.modelName}/version/${v.number}`);
      return ctx.services.gates.approvals(v.modelName, v.number);
    },
  },
  PromotionApproval: {
    approver: (a: PromotionApproval) => a.approverName,
  },
};
