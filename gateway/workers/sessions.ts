// The ORT sessions one worker holds, keyed by model version generation. Opened on first use (a
// replaced worker re-opens lazily from the spec every task carries) and released when the main
// thread broadcasts that a version was unloaded.
import ort from 'onnxruntime-node';
import { parseModelConfig } from '../models/config.js';
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

async function create(spec: SessionSpec): Promise<OpenSession> {
  const options: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: spec.intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    executionProviders: spec.executionProviders,
  };
  let session: ort.InferenceSession;
  let providers: string[] = spec.executionProviders;
  try {
    session = await ort.InferenceSession.create(spec.modelPath, options);
  } catch (err) {
    // CUDA is opt-in and may be missing on this machine: fall back to CPU, the caller logs it once.
    if (!spec.executionProviders.includes('cuda')) throw err;
    providers = ['cpu'];
    session = await ort.InferenceSession.create(spec.modelPath, { ...options, executionProviders: ['cpu'] });
  }
  const observers = await createBatchObservers(spec, parseModelConfig(spec.model, JSON.parse(spec.configJson)));
  return { spec, session, observers, executionProviders: providers };
}
