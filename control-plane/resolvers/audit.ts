import type { AuditFilter } from '../services/audit.js';
import type { PageArgs } from '../services/pagination.js';
import { authorize, type GraphQLContext } from './context.js';

export const auditResolvers = {
  Query: {
    async auditEvents(_: unknown, args: PageArgs & { filter?: AuditFilter | null }, ctx: GraphQLContext) {
      await authorize(ctx, 'audit:read', 'audit.read', 'audit');
      return ctx.services.audit.list(args.filter ?? {}, args);
    },
    async verifyAudit(_: unknown, _args: unknown, ctx: GraphQLContext) {
      await authorize(ctx, 'audit:read', 'audit.verify', 'audit');
      return ctx.services.verifyAudit();
    },
  },
};
