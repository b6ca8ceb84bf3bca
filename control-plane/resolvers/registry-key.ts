import { authorize, type GraphQLContext } from './context.js';

export const registryKeyResolvers = {
  DesiredState: {
    signingKeyChain(_: unknown, _args: unknown, ctx: GraphQLContext) {
      return ctx.services.key.chain;
    },
  },
  Mutation: {
    async rotateSigningKey(_: unknown, args: { overlapSeconds?: number | null }, ctx: GraphQLContext) {
      await authorize(ctx, 'key:rotate', 'registry_key.rotate', 'registry-key');
      const r = await ctx.services.rotateSigningKey(ctx.call, args.overlapSeconds ?? undefined);
      return { ...r, resignedVersions: r.resigned };
    },
  },
};
