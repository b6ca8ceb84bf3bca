import { SluiceError } from '../../lib/errors.js';
import type { Actor, RequestMeta } from '../services/actor.js';
import { UNAUTHENTICATED_ID } from '../services/audit-denials.js';
import type { ControlPlaneServices } from '../services/control-plane.js';

/**
 * The actor behind an `Authorization` header; undefined when there is no header. A malformed header
 * or an unknown or revoked token is an error (not anonymous access): there is no anonymous role.
 * With `audit`, such a failure is counted as a denial of the client address (audit-denials.ts).
 */
export async function authenticateBearer(
  services: ControlPlaneServices,
  header: string | null | undefined,
  audit?: { request: RequestMeta; action: string },
): Promise<Actor | undefined> {
  if (header === null || header === undefined || header === '') return undefined;
  const match = /^Bearer\s+(\S{1,512})$/i.exec(header.trim());
  const actor = match ? await services.tokens.authenticate(match[1]!) : undefined;
  if (actor) return actor;
  const err = match ? new SluiceError('SLUICE_E_AUTH_INVALID', 'unknown or revoked token') : new SluiceError('SLUICE_E_AUTH_INVALID', 'Authorization must be "Bearer <token>"');
  if (audit) await services.audit.denials.count({ actor: UNAUTHENTICATED_ACTOR, request: audit.request }, audit.action, 'token', err.code);
  throw err;
}

/** Who a call with an unknown, revoked or malformed token is in the audit log (its client address says from where). */
const UNAUTHENTICATED_ACTOR = { id: UNAUTHENTICATED_ID, name: 'unknown token', role: 'unauthenticated' } as unknown as Actor;
