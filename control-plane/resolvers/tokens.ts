import type { PageArgs } from '../services/pagination.js';
import type { CreateTokenInput } from '../services/tokens.js';
import { authorize, type GraphQLContext } from './context.js';

export const tokenResolvers = {
  Query: {
    me: (_: unknown, _args: unknown, ctx: GraphQLContext) => ({ tokenId: ctx.call.actor.id, name: ctx.call.actor.name, role: ctx.call.actor.role }),
    async tokens(_: unknown, args: PageArgs, ctx: GraphQLContext) {
      await authorize(ctx, 'token:admin', 'token.list', 'tokens');
      return ctx.services.tokens.list(args);
    },
  },
  Mutation: {
    async createToken(_: unknown, { input }: { input: CreateTokenInput }, ctx: GraphQLContext) {
      await authorize(ctx, 'token:admin', 'token.create', 'tokens');
      return ctx.services.tokens.create(ctx.call, input);
    },
    async revokeToken(_: unknown, { input }: { input: { id: string } }, ctx: GraphQLContext) {
      await authorize(ctx, 'token:admin', 'token.revoke', `token/${input.id}`);
      return ctx.services.tokens.revoke(ctx.call, input.id);
    },
  },
};
