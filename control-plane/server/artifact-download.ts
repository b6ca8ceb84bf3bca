// GET /artifacts/<sha256>: the artifact bytes for gateways (and people with a read role), behind the
// same bearer tokens as GraphQL. The digest and signature travel in headers so a client can check
// the body against them, but gateways should take both from their desired state, not from here.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { SluiceError, toSluiceError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { RequestMeta } from '../services/actor.js';
import { ArtifactStore } from '../services/artifact-store.js';
import type { ControlPlaneServices } from '../services/control-plane.js';
import { allows } from '../services/permissions.js';
import { authenticateBearer } from './authenticate.js';

export async function serveArtifact(services: ControlPlaneServices, req: IncomingMessage, res: ServerResponse, sha256: string, meta: RequestMeta, logger: Logger): Promise<void> {
  try {
    const actor = await authenticateBearer(services, req.headers.authorization, { request: meta, action: 'artifact.download' });
    if (!actor) throw new SluiceError('SLUICE_E_AUTH_MISSING', 'send Authorization: Bearer <token>');
    const resource = `artifact/${sha256}`;
    if (!allows(actor.role, 'artifact:download')) await services.audit.denied({ actor, request: meta }, 'artifact.download', resource, 'needs artifact:download');
    const artifact = ArtifactStore.isDigest(sha256) ? await services.registry.artifact(sha256) : undefined;
    const size = artifact ? await services.artifacts.sizeOf(sha256) : undefined;
    if (!artifact || size === undefined) throw new SluiceError('SLUICE_E_STORE_NOT_FOUND', `no artifact ${sha256}`);
    if (actor.role === 'gateway') {
      const gateway = await services.gateways.ofToken(actor.id);
      await services.residency.checkDownload({ actor, request: meta }, sha256, gateway?.region ?? null);
    }
    const body = req.method === 'HEAD' ? undefined : await services.artifacts.open(sha256);
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(size),
      'x-sluice-sha256': sha256,
      'x-sluice-signature': artifact.signature,
      'x-sluice-key-id': artifact.keyId,
    });
    if (!body) {
      res.end();
      return;
    }
    await pipeline(body, res);
  } catch (err) {
    if (res.headersSent) {
      logger.warn({ err, sha256, req: meta.requestId }, 'artifact download interrupted');
      res.destroy();
      return;
    }
    sendError(res, toSluiceError(err));
  }
}

export function sendError(res: ServerResponse, err: SluiceError): void {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (err.status === 401) headers['www-authenticate'] = 'Bearer';
  res.writeHead(err.status, headers).end(JSON.stringify(err.toJSON()));
}
