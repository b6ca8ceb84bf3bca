// The payload log as a gateway extension (`--payload-log-dir`): it puts a tap on the inference
// service that samples calls of models whose config has `payload_log`, copies the sampled call
// before it runs, and queues its JSON line (built and pseudonymized later, in the writer's batch);
// the sluice_payload_log_* metrics count what was written and what was dropped.
import { Counter } from 'prom-client';
import { join } from 'node:path';
import type { SluiceError } from '../../lib/errors.js';
import type { GatewayContext, GatewayExtension } from '../context.js';
import type { InferenceRequest, InferenceResponse, PayloadTap } from '../inference/inference-service.js';
import type { LoadedVersion } from '../models/loaded-version.js';
import { loadPayloadKey } from './payload-key.js';
import { answeredOutputs, copyTensor, Pseudonymizer, type CapturedCall } from './payload-record.js';
import { PayloadWriter } from './payload-writer.js';

export interface PayloadLogOptions {
  /** Folder of the log: one sub-folder per model. */
  dir: string;
  /** HMAC key file (created 0600 when missing; default `<dir>/.payload-log.key`). */
  keyFile?: string | undefined;
  queueLimit?: number | undefined;
  flushMs?: number | undefined;
  retentionMs?: number | undefined;
}

export function payloadLog(options: PayloadLogOptions): GatewayExtension {
  return (ctx: GatewayContext) => {
    const key = loadPayloadKey(options.keyFile ?? join(options.dir, '.payload-log.key'));
    const pseudonyms = new Pseudonymizer(key);
    const written = new Counter({ name: 'sluice_payload_log_entries_total', help: 'Payload log entries written', labelNames: ['model'], registers: [ctx.metrics.registry] });
    const dropped = new Counter({ name: 'sluice_payload_log_dropped_total', help: 'Payload log entries dropped because the write queue was full', labelNames: ['model'], registers: [ctx.metrics.registry] });
    const writer = new PayloadWriter({
      dir: options.dir,
      logger: ctx.logger.child({ component: 'payload-log' }),
      queueLimit: options.queueLimit,
      flushMs: options.flushMs,
      retentionMs: options.retentionMs,
      onDrop: (model) => dropped.inc({ model }),
      onWritten: (model, n) => written.inc({ model }, n),
    });
    const tap: PayloadTap<CapturedCall> = {
      capture(version: LoadedVersion, request: InferenceRequest): CapturedCall | undefined {
        const config = version.config.payload_log!;
        if (config.sample < 1 && Math.random() >= config.sample) return undefined;
        return {
          at: Date.now(), model: version.name, version: version.version, id: request.id, config,
          parameters: request.parameters === undefined ? undefined : { ...request.parameters },
          inputs: request.inputs.map(copyTensor),
        };
      },
      answered(c: CapturedCall, response: InferenceResponse, ms: number): void {
        if (c.config.outputs) c.outputs = answeredOutputs(response);
        if (response.id !== undefined) c.id = response.id;
        c.ms = ms;
        writer.push(c.model, c.config, () => pseudonyms.line(c));
      },
      failed(c: CapturedCall, error: SluiceError, ms: number): void {
        c.error = error.code;
        c.ms = ms;
        writer.push(c.model, c.config, () => pseudonyms.line(c));
      },
    };
    ctx.inference.setPayloadTap(tap);
    return {
      close: async () => {
        ctx.inference.setPayloadTap(undefined);
        await writer.close();
      },
    };
  };
}
