import { Repeater } from 'graphql-yoga';
import { SluiceError } from '../../lib/errors.js';
import type { DesiredState } from '../services/desired-state.js';
import type { Gateway, HeartbeatInput } from '../services/gateways.js';
import type { PageArgs } from '../services/pagination.js';
import { authorize, keyValues, type GraphQLContext } from './context.js';
import { gatewayStatus, STALE_AFTER_INTERVALS } from '../services/fleet.js';


/**
 * Which gateway a desired-state request is for. A gateway token always gets its own gateway (and is
 * denied another's); people may name any registered gateway or none. A named gateway's state leaves
 * out the models kept out of its region or not placed on it.
 */
async function targetGateway(ctx: GraphQLContext, requested: string | null | undefined): Promise<Pick<Gateway, 'name' | 'region' | 'labels'> | null> {
  await authorize(ctx, 'desired-state:read', 'desired_state.read', requested ? `gateway/${requested}` : 'desired-state');
  if (ctx.call.actor.role === 'gateway') {
    const own = await ctx.services.gateways.ofToken(ctx.call.actor.id);
    if (requested && requested !== own?.name) {
      await ctx.services.audit.denied(ctx.call, 'desired_state.read', `gateway/${requested}`, 'another gateway');
    }
    // A gateway token that has not registered yet has no region or labels: only unrestricted models.
    return own ?? { name: '', region: '', labels: {} };
  }
  if (!requested) return null;
  const named = await ctx.services.gateways.get(requested);
  if (!named) throw new SluiceError('SLUICE_E_STORE_NOT_FOUND', `no gateway ${requested}`, { details: { gateway: requested } });
  return named;
}

function present(state: DesiredState, target: Pick<Gateway, 'name' | 'region'> | null, ctx: GraphQLContext) {
  const { services, baseUrl } = ctx;
  return {
    gateway: target?.name || null,
    /** Whose peers DesiredState.peers lists (not a GraphQL field). */
    peersOf: target !== null && target.name !== '' ? { name: target.name, region: target.region } : null,
    revision: state.revision,
    models: state.models.map((m) => ({
      ...m,
      versions: m.versions.map((v) => ({ ...v, downloadUrl: `${baseUrl}${v.downloadPath}`, files: v.files.map((f) => ({ ...f, downloadUrl: `${baseUrl}${f.downloadPath}` })) })),
    })),
    signingKey: { keyId: services.key.keyId, publicKeyPem: services.key.publicKeyPem },
    // Token hashes go to the gateways that check them (and admins), not to every reader.
    access: ctx.call.actor.role === 'gateway' || ctx.call.actor.role === 'admin' ? state.access : null,
    heartbeatIntervalSeconds: ctx.heartbeatIntervalSeconds,
    trafficReportIntervalMs: state.models.some((m) => m.rollout !== null) ? 1000 : ctx.heartbeatIntervalSeconds * 1000,
  };
}

type Presented = ReturnType<typeof present>;

/**
 * The current desired state, then each new one. Changes are computed one after another so pushes
 * keep their order, and an unchanged revision (e.g. a version registered under a `production`
 * alias that did not move) is not pushed again.
 */
function desiredStates(ctx: GraphQLContext, gateway: Pick<Gateway, 'name' | 'region' | 'labels'> | null): Repeater<Presented> {
  return new Repeater<Presented>(async (push, stop) => {
    let last = '';
    let chain = Promise.resolve();
    const refresh = () => {
      chain = chain
        .then(async () => {
          const state = await ctx.services.sharedDesiredState(gateway ?? undefined);
          if (state.revision === last) return;
          last = state.revision;
          // A child of whatever caused the change in this process (a mutation, a rollout step).
          const attributes = { 'sluice.gateway': gateway?.name ?? '', 'sluice.revision': state.revision, 'sluice.actor.id': ctx.call.actor.id };
          await ctx.services.tracing.span('sync.push', attributes, () => push(present(state, gateway, ctx)));
        })
        .catch((err: unknown) => stop(err));
    };
    const unsubscribe = ctx.services.onRegistryChange(refresh);
    refresh();
    await stop;
    unsubscribe();
  });
}

export const gatewayResolvers = {
  Query: {
    async gateways(_: unknown, args: PageArgs, ctx: GraphQLContext) {
      await authorize(ctx, 'gateway:read', 'gateway.list', 'gateways');
      return ctx.services.gateways.list(args);
    },
    async gateway(_: unknown, args: { name: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'gateway:read', 'gateway.read', `gateway/${args.name}`);
      return ctx.services.gateways.get(args.name);
    },
    async desiredState(_: unknown, args: { gateway?: string | null }, ctx: GraphQLContext) {
      const gateway = await targetGateway(ctx, args.gateway);
      return present(await ctx.services.sharedDesiredState(gateway ?? undefined), gateway, ctx);
    },
  },
  Mutation: {
    async registerGateway(_: unknown, { input }: { input: { name: string; region?: string | null; labels?: unknown } }, ctx: GraphQLContext) {
      await authorize(ctx, 'gateway:sync', 'gateway.register', `gateway/${input.name}`);
      return ctx.services.gateways.register(ctx.call, input);
    },
    async heartbeat(_: unknown, { input }: { input: HeartbeatInput }, ctx: GraphQLContext) {
      await authorize(ctx, 'gateway:sync', 'gateway.report', `gateway/${input.name}`);
      return ctx.services.gateways.heartbeat(ctx.call, input);
    },
    async reportTraffic(_: unknown, args: { gateway: string; windows: unknown }, ctx: GraphQLContext) {
      await authorize(ctx, 'gateway:sync', 'traffic.report', `gateway/${args.gateway}`);
      return ctx.services.traffic.report(ctx.call, args.gateway, args.windows);
    },
  },
  Subscription: {
    desiredStateChanged: {
      async subscribe(_: unknown, args: { gateway?: string | null }, ctx: GraphQLContext) {
        const gateway = await targetGateway(ctx, args.gateway);
        return desiredStates(ctx, gateway);
      },
      resolve: (state: Presented) => state,
    },
  },
  DesiredState: {
    // Computed at each read (polls, pushes), never hashed into the revision: liveness changes with
    // every heartbeat, the models do not.
    async peers(state: Presented, _: unknown, ctx: GraphQLContext) {
      if (ctx.call.actor.role !== 'gateway' || state.peersOf === null) return null;
      return ctx.services.gateways.peers(state.peersOf, STALE_AFTER_INTERVALS * ctx.heartbeatIntervalSeconds * 1000);
    },
  },
  Gateway: {
    labels: (g: Gateway) => keyValues(g.labels),
    loadedVersions: (g: Gateway) => g.loaded,
    status: (g: Gateway, _: unknown, ctx: GraphQLContext) => gatewayStatus(g.lastHeartbeatAt, STALE_AFTER_INTERVALS * ctx.heartbeatIntervalSeconds * 1000),
  },
};
