// Who is calling and from where: what every service call carries, so that the audit event written
// in the same transaction names the actor, the request and the client.

export const ROLES = ['viewer', 'developer', 'operator', 'admin', 'gateway', 'runner'] as const;
export type Role = (typeof ROLES)[number];

export interface Actor {
  /** token id, or `system` for the control plane itself */
  id: string;
  name: string;
  role: Role | 'system';
}

export interface RequestMeta {
  requestId: string;
  clientAddress: string;
}

export interface CallContext {
  actor: Actor;
  request: RequestMeta;
}

/** The control plane acting on its own (bootstrap, seeding the example models). */
export const SYSTEM_ACTOR: Actor = { id: 'system', name: 'system', role: 'system' };

export function systemContext(reason: string): CallContext {
  return { actor: SYSTEM_ACTOR, request: { requestId: `system-${reason}`, clientAddress: 'local' } };
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}
