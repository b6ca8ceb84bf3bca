import { SluiceError } from '../../lib/errors.js';
import type { Actor } from '../services/actor.js';
import type { ControlPlaneServices } from '../services/control-plane.js';

/**
 * The actor behind an `Authorization` header; undefined when there is no header. A malformed header
 * or an unknown or revoked token is an error (not anonymous access): there is no anonymous role.
 */
export async function authenticateBearer(services: ControlPlaneServices, header: string | null | undefined): Promise<Actor | undefined> {
  if (header === null || header === undefined || header === '') return undefined;
  const match = /^Bearer\s+(\S{1,512})$/i.exec(header.trim());
  if (!match) throw new SluiceError('SLUICE_E_AUTH_INVALID', 'Authorization must be "Bearer <token>"');
  const actor = await services.tokens.authenticate(match[1]!);
  if (!actor) throw new SluiceError('SLUICE_E_AUTH_INVALID', 'unknown or revoked token');
  return actor;
}
