// Drift on the gateway: a DriftHub fed by the workers' drift observers (registered in
// workers/observers.ts), sluice_drift_* metrics on the gateway's registry, and the JSON endpoint
//   GET /v2/models/{name}/versions/{version}/drift   (and /v2/models/{name}/drift: the routed version)
// answering the version's DriftReport: scores of the current and previous windows per feature,
// levels against the thresholds, the recent drift events, and `feedback`: the version's accuracy (or
// error) from ground truth over its current and previous feedback windows (null before any), and
// `attributions`: the attribution windows of sampled calls (gateway/explain, null when off), and
// `slices`: outcome and error rates per slice of the config's column (gateway/feedback/slices.ts,
// null when off or before the first answer). 404 (coded) for an unknown model or
// version, or one whose config has no `drift` section.
import { resolve } from 'node:path';
import { SluiceError } from '../../lib/errors.js';
import type { GatewayContext, GatewayExtension } from '../context.js';
import { DriftHub } from '../drift/hub.js';
import type { DriftBackend } from '../drift/window.js';
import type { DriftEvent } from '../drift/monitor.js';
import { admit, Need } from './access-gate.js';
import { param, route, type HttpCall } from './http-io.js';

export interface DriftRoutesOptions {
  /** How often worker windows are collected and scored (default 1000 ms). */
  mergeIntervalMs?: number;
  backend?: DriftBackend | 'auto';
  /** Every drift event (after it is logged): the control-plane sync forwards them. */
  onEvent?: (event: DriftEvent) => void;
  /** Receives the gateway's DriftHub (reports() of every monitored version, for pushing elsewhere). */
  onHub?: (hub: DriftHub) => void;
}

export function driftRoutes(options: DriftRoutesOptions = {}): GatewayExtension {
  return (ctx: GatewayContext) => {
    const { repository, inference, app } = ctx;
    const hub = new DriftHub({
      logger: ctx.logger.child({ component: 'drift' }),
      registry: ctx.metrics.registry,
      mergeIntervalMs: options.mergeIntervalMs,
      backend: options.backend,
      onEvent: options.onEvent,
      owns: (model, version, versionDir) => {
        const v = repository.model(model)?.versions.get(version);
        return v && resolve(v.dir) === resolve(versionDir) ? v.config.drift : undefined;
      },
    });
    options.onHub?.(hub);
    // Every traffic window the gateway reports carries its version's drift figures.
    inference.traffic.driftSource = (model, version) => hub.monitor(model, version)?.snapshot();
    inference.traffic.driftBinsSource = (model, version) => hub.monitor(model, version)?.bins();
    const report = (call: HttpCall, name: string, version: string | undefined): void => {
      try {
        const v = inference.resolve(name, version);
        if (!v.config.drift) {
          throw new SluiceError('SLUICE_E_HTTP_NOT_FOUND', `model ${name} version ${v.version} has no drift profile (config field drift)`);
        }
        const monitor = hub.ensure(v.name, v.version, v.dir, v.config.drift);
        const attributions = inference.attributions.report(v.name, v.version) ?? null;
        const slices = inference.feedback.slices(v.name, v.version) ?? null;
        call.json(200, JSON.stringify({ ...monitor.report(), feedback: inference.feedback.report(v.name, v.version) ?? null, attributions, slices }));
      } catch (err) {
        call.error(err);
      }
    };
    // Drift reports describe what callers sent: the `metrics` scope, like /metrics.
    route(app, 'get', ['/v2/models/:name/versions/:version/drift'], (call, req) => {
      if (admit(ctx.access, call, req, Need.Metrics)) report(call, param(req, 0), param(req, 1));
    });
    route(app, 'get', ['/v2/models/:name/drift'], (call, req) => {
      if (admit(ctx.access, call, req, Need.Metrics)) report(call, param(req, 0), undefined);
    });
    return {
      close: () => {
        inference.traffic.driftSource = undefined;
        inference.traffic.driftBinsSource = undefined;
        return hub.close();
      },
    };
  };
}
