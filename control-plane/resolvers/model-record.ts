import { SluiceError } from '../../lib/errors.js';
import { allows } from '../services/permissions.js';
import { modelVersionRecord } from '../services/model-record.js';
import { modelRecordMarkdown } from '../services/model-record-md.js';
import { authorize, type GraphQLContext } from './context.js';

export const modelRecordResolvers = {
  Query: {
    async modelVersionRecord(_: unknown, args: { model: string; version?: number | null }, ctx: GraphQLContext) {
      const resource = args.version === undefined || args.version === null ? `model/${args.model}` : `model/${args.model}/version/${args.version}`;
      await authorize(ctx, 'registry:read', 'model_version.record', resource);
      if (args.version !== undefined && args.version !== null && (!Number.isInteger(args.version) || args.version < 1)) {
        throw new SluiceError('SLUICE_E_VALIDATION', 'version: must be a positive integer', { details: { field: 'version' } });
      }
      const s = ctx.services;
      const withAudit = allows(ctx.call.actor.role, 'audit:read');
      const record = await modelVersionRecord({ store: s.store, audit: { verify: () => s.verifyAudit() } }, args.model, args.version ?? undefined, withAudit);
      return { model: record.model.name, version: record.version.number, document: record, markdown: modelRecordMarkdown(record) };
    },
  },
};
