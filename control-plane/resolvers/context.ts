import type { Actor, CallContext } from '../services/actor.js';
import type { ControlPlaneServices } from '../services/control-plane.js';
import { allows, type Permission } from '../services/permissions.js';

/** What the HTTP layer passes into each yoga request. */
export interface RequestScope {
  requestId: string;
  clientAddress: string;
  baseUrl: string;
  /** A multipart request already authenticated and streamed to the store (server/graphql-upload.ts). */
  upload?: { actor: Actor; params: Record<string, unknown> } | undefined;
}

/** What every resolver receives: the services and the authenticated call. */
export interface GraphQLContext {
  services: ControlPlaneServices;
  call: CallContext;
  /** e.g. http://127.0.0.1:8080, for absolute download URLs */
  baseUrl: string;
  heartbeatIntervalSeconds: number;
}

/** Check the caller's role; a refusal is audited (outcome denied) before the error reaches the client. */
export async function authorize(ctx: GraphQLContext, permission: Permission, action: string, resource: string): Promise<void> {
  if (allows(ctx.call.actor.role, permission)) return;
  await ctx.services.audit.denied(ctx.call, action, resource, `needs ${permission}`);
}

export function keyValues(record: Record<string, string>): { key: string; value: string }[] {
  return Object.entries(record).map(([key, value]) => ({ key, value }));
}
