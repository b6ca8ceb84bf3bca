// The ORT sessions one worker holds, keyed by model version generation. Opened on first use (a
// replaced worker re-opens lazily from the spec every task carries) and released when the main
// thread broadcasts that a version was unloaded.
import ort from 'onnxruntime-node';
import { parseModelConfig } from '../models/config.js';
import { cpuFallbackOptions, ortSessionOptions } from './session-options.js';
import { createBatchObservers, type BatchObserver } from './observers.js';
import type { SessionSpec } from '../util/worker-messages.js';

export interface OpenSession {
  spec: SessionSpec;
  session: ort.InferenceSession;
  observers: BatchObserver[];
  executionProviders: string[];
}

const sessions = new Map<string, Promise<OpenSession>>();

export function openSession(spec: SessionSpec): Promise<OpenSession> {
  let open = sessions.get(spec.key);
  if (open === undefined) {
    open = create(spec);
    sessions.set(spec.key, open);
    open.catch(() => sessions.delete(spec.key));
  }
  return open;
}

export async function releaseSession(key: string): Promise<void> {
  const open = sessions.get(key);
  if (open === undefined) return;
  sessions.delete(key);
  const s = await open.catch(() => undefined);
  if (s === undefined) return;
  for (const o of s.observers) o.close?.();
  await s.session.release();
}

/**
 * The session's first provider could not be created and the config has require_provider: the load
 * fails with SLUICE_E_MODEL_PROVIDER (the pool turns this phase into that code) naming ORT's reason.
 */
export class ProviderUnavailableError extends Error {
  readonly provider: string;
  constructor(provider: string, deviceId: number, reason: string) {
    super(`requires execution provider ${provider}${provider === 'cuda' ? ` (device_id ${deviceId})` : ''}, which ONNX Runtime could not create: ${reason}`);
    this.provider = provider;
  }
}

async function create(spec: SessionSpec): Promise<OpenSession> {
  const config = parseModelConfig(spec.model, JSON.parse(spec.configJson));
  const options = ortSessionOptions(config, spec.deviceId);
  let session: ort.InferenceSession;
  let providers: string[] = spec.executionProviders;
  try {
    session = await ort.InferenceSession.create(spec.modelPath, options);
  } catch (err) {
    // CUDA is opt-in and may be missing on this machine: refuse when the config requires it, else
    // fall back to CPU; the provider in use is reported (metadata, metrics, heartbeat).
    if (!spec.executionProviders.includes('cuda')) throw err;
    if (config.require_provider) throw new ProviderUnavailableError(config.execution_providers[0]!, spec.deviceId, (err as Error).message);
    providers = ['cpu'];
    session = await ort.InferenceSession.create(spec.modelPath, cpuFallbackOptions(options));
  }
  const observers = await createBatchObservers(spec, config);
  return { spec, session, observers, executionProviders: providers };
}
