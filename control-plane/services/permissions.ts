import type { Role } from './actor.js';

const READERS: readonly Role[] = ['viewer', 'developer', 'operator', 'admin'];

/**
 * What each role may do, in one table that the resolvers consult and the tests walk. Roles do not
 * inherit from each other except that `admin` may do everything a person may; `gateway` is a
 * machine identity that may only sync;
 * `runner` one that may only claim training jobs and report on them.
 */
export const PERMISSIONS = {
  'registry:read': READERS,
  'registry:write': ['developer', 'admin'],
  'alias:write': ['operator', 'admin'],
  'rollout:read': READERS,
  'rollout:write': ['operator', 'admin'],
  'token:admin': ['admin'],
  'audit:read': ['admin'],
  'gateway:read': READERS,
  'gateway:sync': ['gateway'],
  'desired-state:read': [...READERS, 'gateway'],
  'artifact:download': [...READERS, 'gateway'],
  'key:read': [...READERS, 'gateway'],
  'training:read': READERS,
  'training:write': ['developer', 'admin'],
  'training:run': ['runner'],
  // issue 16: gates, datasets, alerts, the retraining loop
  'gate:read': READERS,
  'gate:run': ['developer', 'operator', 'admin'],
  'gate:policy': ['operator', 'admin'],
  'gate:override': ['admin'],
  'promotion:approve': ['operator', 'admin'],
  'dataset:write': ['developer', 'admin'],
  'alert:read': READERS,
  'alert:write': ['operator', 'admin'],
  'retrain:read': READERS,
  'retrain:write': ['operator', 'admin'],
  // issue 18: data residency
  'residency:write': ['operator', 'admin'],
  // issue 19: which gateways serve a model
  'placement:write': ['operator', 'admin'],
  // issue 18: registry key rotation
  'key:rotate': ['admin'],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSIONS;

/**
 * Gateway scopes (issue 17) of a token created without explicit ones: people who may serve
 * calls get every model and the metrics; viewers the metrics; machine identities nothing.
 */
export const DEFAULT_GATEWAY_SCOPES: Record<Role, readonly string[]> = {
  admin: ['infer:*', 'metrics'],
  operator: ['infer:*', 'metrics'],
  developer: ['infer:*', 'metrics'],
  viewer: ['metrics'],
  gateway: [],
  runner: [],
};

export function allows(role: Role | 'system', permission: Permission): boolean {
  return role === 'system' || (PERMISSIONS[permission] as readonly string[]).includes(role);
}
