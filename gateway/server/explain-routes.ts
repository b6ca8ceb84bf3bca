// Explanations over HTTP (KServe's :explain, for tabular models; docs/explanations.md):
//   POST /v2/models/{name}/explain  (and /v2/models/{name}/versions/{version}/explain)
//     an OIP inference request (JSON, or the binary tensor extension) with one FP32 input [N,F];
//     `parameters`: method (exact | kernel), seed, nsamples. Answers the Explanation of
//     gateway/explain/explainer.ts, or a coded 4xx/503. Same scope as infer on that model.
import { Counter, Gauge, Histogram } from 'prom-client';
import type { HttpRequest } from 'uWebSockets.js';
import { SluiceError, isSluiceError, toSluiceError } from '../../lib/errors.js';
import { nextRequestId } from '../../lib/log.js';
import type { GatewayContext, GatewayExtension } from '../context.js';
import { EXPLAIN_DEFAULTS } from '../models/config.js';
import { prepare } from '../inference/prepare.js';
import { admit, Need } from './access-gate.js';
import { param, readBody, releaseBody, route, type HttpCall } from './http-io.js';
import { decodeInferenceRequest } from './oip-codec.js';

export function explainRoutes(): GatewayExtension {
  return (ctx: GatewayContext) => {
    const { app, inference, access, logger } = ctx;
    const explainer = inference.attributions.explainer;
    const calls = new Counter({
      name: 'sluice_explanations_total',
      help: 'Explain calls by model, version, method and outcome (success or the error code)',
      labelNames: ['model', 'version', 'method', 'outcome'],
      registers: [ctx.metrics.registry],
    });
    const seconds = new Histogram({
      name: 'sluice_explanation_duration_seconds',
      help: 'Time to answer an explain call, queueing behind inference included',
      labelNames: ['model', 'method'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [ctx.metrics.registry],
    });

    // The attribution windows of sampled traffic (explain.sample_fraction), read at scrape time.
    const windows = inference.attributions;
    new Gauge({
      name: 'sluice_attribution_mean_abs',
      help: 'Mean absolute attribution per feature over the current attribution window (sampled calls)',
      labelNames: ['model', 'version', 'feature'],
      registers: [ctx.metrics.registry],
      collect() {
        this.reset();
        for (const { model, version, windows: w } of windows.entries()) {
          const r = w.report(windows.now).current;
          if (r.rows > 0) for (const f of r.features) this.set({ model, version, feature: f.feature }, f.mean_abs);
        }
      },
    });
    new Gauge({
      name: 'sluice_attribution_shift',
      help: 'Total variation distance of the attribution shares from the reference profile\'s (0..1), current window else previous',
      labelNames: ['model', 'version'],
      registers: [ctx.metrics.registry],
      collect() {
        this.reset();
        for (const { model, version, windows: w } of windows.entries()) {
          const shift = w.shift(windows.now);
          if (shift !== null) this.set({ model, version }, shift);
        }
      },
    });

    const handle = (call: HttpCall, req: HttpRequest, name: string, version: string | undefined): void => {
      const headerLengthText = req.getHeader('inference-header-content-length');
      const started = performance.now();
      readBody(call, req, { limit: ctx.options.maxBodyBytes })
        .then(async (body) => {
          try {
            if (call.aborted) return;
            inference.checkServed(name, version);
            let decoded;
            if (headerLengthText === '') decoded = decodeInferenceRequest(body);
            else {
              const h = Number(headerLengthText);
              if (!/^\d+$/.test(headerLengthText) || h > body.byteLength) {
                throw new SluiceError('SLUICE_E_PROTOCOL_BAD_BINARY', 'Inference-Header-Content-Length must be a non-negative integer within the body');
              }
              decoded = decodeInferenceRequest(body.subarray(0, h), body.subarray(h));
            }
            const v = inference.resolve(name, version, decoded);
            if (v.state !== 'READY') throw v.notReady();
            const e = explainer.explainable(v);
            // Before prepare(): its batch-size check would name max_batch_size, not the explain limit.
            const limit = (v.config.explain ?? EXPLAIN_DEFAULTS).max_rows;
            const rows = decoded.inputs.find((i) => i.name === e.input)?.shape[0];
            if (rows !== undefined && rows > limit) {
              throw new SluiceError('SLUICE_E_EXPLAIN_TOO_MANY_ROWS', `an explanation takes at most ${limit} rows (explain.max_rows); the call has ${rows}`);
            }
            const prepared = prepare(v, { model: name, inputs: decoded.inputs });
            const params = decoded.parameters ?? {};
            let method = 'unknown';
            try {
              const result = await explainer.explain(v, prepared.inputs[0]!, { method: params.method, seed: params.seed, nsamples: params.nsamples, signal: call.signal });
              method = result.method;
              calls.inc({ model: v.name, version: v.version, method, outcome: 'success' });
              seconds.observe({ model: v.name, method }, (performance.now() - started) / 1000);
              if (!call.aborted) call.json(200, JSON.stringify(result));
            } catch (err) {
              calls.inc({ model: v.name, version: v.version, method, outcome: toSluiceError(err).code });
              throw err;
            }
          } finally {
            releaseBody(body);
          }
        })
        .catch((err: unknown) => {
          if (isSluiceError(err) && err.status < 500) return call.error(err);
          const id = nextRequestId();
          logger.error({ err, req: id }, 'explain call failed');
          call.error(err, id);
        });
    };

    route(app, 'post', ['/v2/models/:name/explain'], (call, req) => {
      const name = param(req, 0);
      if (admit(access, call, req, Need.Infer, name)) handle(call, req, name, undefined);
    });
    route(app, 'post', ['/v2/models/:name/versions/:version/explain'], (call, req) => {
      const name = param(req, 0);
      if (admit(access, call, req, Need.Infer, name)) handle(call, req, name, param(req, 1));
    });
  };
}
