// The uWS face of access control (access/access-policy.ts): called first thing in a route handler,
// it reads the Origin and Authorization headers, and answers a refusal itself (401 with
// WWW-Authenticate, 403, 429 with Retry-After) before any body byte is read; uWS discards the
// unread body and keeps the connection. Also answers CORS preflights.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { SluiceError } from '../../lib/errors.js';
import type { GatewayAccess, Need } from '../access/access-policy.js';
import { statusLine, type HttpCall } from './http-io.js';

export { Need } from '../access/access-policy.js';

const PREFLIGHT_HEADERS = 'authorization, content-type, inference-header-content-length, sluice-route-key, sluice-preview';

function originRefused(origin: string): SluiceError {
  return new SluiceError('SLUICE_E_GATEWAY_ORIGIN', `requests from origin ${origin.slice(0, 100)} are not allowed (--cors-origins)`);
}

/** True lets the handler go on; false: the call was refused and answered. */
export function admit(access: GatewayAccess, call: HttpCall, req: HttpRequest, need: Need, model?: string): boolean {
  const origin = req.getHeader('origin');
  if (origin !== '') {
    if (!access.originAllowed(origin)) {
      call.error(originRefused(origin));
      return false;
    }
    call.corsOrigin = origin;
  }
  if (!access.required) return true;
  try {
    access.check(req.getHeader('authorization'), need, model);
    return true;
  } catch (err) {
    call.error(err, undefined, (err as SluiceError).status === 401 ? { 'WWW-Authenticate': 'Bearer' } : undefined);
    return false;
  }
}

/** Answer a CORS preflight (OPTIONS with Origin and Access-Control-Request-Method); false when the request is not one. */
export function preflight(access: GatewayAccess, res: HttpResponse, req: HttpRequest): boolean {
  const origin = req.getHeader('origin');
  if (origin === '' || req.getHeader('access-control-request-method') === '') return false;
  const allowed = access.originAllowed(origin);
  res.cork(() => {
    if (!allowed) {
      const e = originRefused(origin);
      res.writeStatus(statusLine(e.status)).writeHeader('Content-Type', 'application/json').writeHeader('Vary', 'Origin').end(JSON.stringify(e.toJSON()));
      return;
    }
    res.writeStatus('204 No Content')
      .writeHeader('Access-Control-Allow-Origin', origin)
      .writeHeader('Access-Control-Allow-Methods', 'GET, HEAD, POST')
      .writeHeader('Access-Control-Allow-Headers', PREFLIGHT_HEADERS)
      .writeHeader('Access-Control-Max-Age', '600')
      .writeHeader('Vary', 'Origin')
      .endWithoutBody();
  });
  return true;
}
