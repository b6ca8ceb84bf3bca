// Ground truth over HTTP:
//   POST /v2/models/{name}/feedback  (and /v2/models/{name}/versions/{version}/feedback)
//     {"id", "label" | "value" | "labels" | "values"} or {"feedback": [...]}; answers
//     {"accepted": [{id, model_name, model_version, rows, correct | abs_error}]}, or a coded 4xx
//     (gateway/feedback/ground-truth.ts) with nothing applied. Behind a load balancer the items
//     another gateway holds are sent to it (gateway/feedback/feedback-forwarding.ts).
//   GET the same paths: the version's accuracy windows (the routed version without versions/{v}).
import { SluiceError } from '../../lib/errors.js';
import { parseFeedbackBody } from '../feedback/feedback-items.js';
import { FORWARDED_HEADER, PROBE_HEADER } from '../feedback/feedback-forwarding.js';
import type { InferenceService } from '../inference/inference-service.js';
import type { GatewayAccess } from '../access/access-policy.js';
import { admit as admitCall, Need } from './access-gate.js';
import { HttpCall, param, readBody, releaseBody, routeMethods } from './http-io.js';
import { parseJsonHeader } from './oip-codec.js';
import type { TemplatedApp, HttpRequest } from 'uWebSockets.js';

export interface FeedbackRouteOptions {
  inference: InferenceService;
  access: GatewayAccess;
  maxBodyBytes: number;
  /** Answers a server-side failure (logs it with a request id). */
  fail(call: HttpCall, err: unknown): void;
}

export function feedbackRoutes(app: TemplatedApp, o: FeedbackRouteOptions): void {
  const give = (call: HttpCall, req: HttpRequest, name: string, version: string | undefined): void => {
    // Headers are read before the first await (uWS frees the request after the handler returns).
    const authorization = req.getHeader('authorization');
    const forwarded = req.getHeader(FORWARDED_HEADER) !== '';
    const probe = forwarded && req.getHeader(PROBE_HEADER) !== '';
    readBody(call, req, { limit: o.maxBodyBytes })
      .then((body) => {
        let parsed: unknown;
        try {
          if (call.aborted) return undefined;
          parsed = parseJsonHeader(body);
        } finally {
          releaseBody(body);
        }
        if (probe) return o.inference.feedbackForwarding.probe(name, version, parsed);
        const items = parseFeedbackBody(parsed);
        const batch = (parsed as { feedback?: unknown }).feedback !== undefined;
        return o.inference.feedbackForwarding.give({ model: name, version, items, batch, authorization, forwarded });
      })
      .then((reply) => {
        if (reply !== undefined) call.send(reply.status, 'application/json', reply.body, reply.retryAfter === undefined ? undefined : { 'Retry-After': reply.retryAfter });
      })
      .catch((err: unknown) => o.fail(call, err));
  };

  const report = (call: HttpCall, name: string, version: string | undefined): void => {
    try {
      const v = o.inference.resolve(name, version);
      const r = o.inference.feedback.report(v.name, v.version);
      const refusal = r === undefined ? o.inference.feedback.refusal(v) : undefined;
      if (refusal !== undefined) throw new SluiceError('SLUICE_E_FEEDBACK_UNSUPPORTED', refusal);
      call.json(200, JSON.stringify({ model_name: v.name, model_version: v.version, feedback: r ?? null }));
    } catch (err) {
      call.error(err);
    }
  };
  const admit = (call: HttpCall, req: HttpRequest): string | undefined => {
    const name = param(req, 0);
    return admitCall(o.access, call, req, Need.Infer, name) ? name : undefined;
  };
  routeMethods(app, ['/v2/models/:name/feedback'], {
    get: (call, req) => {
      const name = admit(call, req);
      if (name !== undefined) report(call, name, undefined);
    },
    post: (call, req) => {
      const name = admit(call, req);
      if (name !== undefined) give(call, req, name, undefined);
    },
  });
  routeMethods(app, ['/v2/models/:name/versions/:version/feedback'], {
    get: (call, req) => {
      const name = admit(call, req);
      if (name !== undefined) report(call, name, param(req, 1));
    },
    post: (call, req) => {
      const name = admit(call, req);
      if (name !== undefined) give(call, req, name, param(req, 1));
    },
  });
}
