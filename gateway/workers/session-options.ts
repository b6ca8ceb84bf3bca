// From a model's config to the options its ONNX Runtime sessions are created with: a pure function,
// so the mapping is tested without a GPU. onnxruntime-node's binding reads `deviceId` and nothing
// else from the CUDA provider's options (config.ts refuses the CUDA options it would drop).
import type { InferenceSession } from 'onnxruntime-node';
import type { ModelConfig } from '../models/config.js';

export type ProviderName = ModelConfig['execution_providers'][number];

/**
 * The session options for the providers the config asks for, in its order; CUDA on `deviceId`
 * (the device placement chose, workers/gpu-devices.ts; by default the config's, 0 for 'auto').
 */
export function ortSessionOptions(
  config: Pick<ModelConfig, 'execution_providers' | 'device_id' | 'intra_op_threads'>,
  deviceId = typeof config.device_id === 'number' ? config.device_id : 0,
): InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: config.intra_op_threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    executionProviders: config.execution_providers.map((p) => (p === 'cuda' ? { name: 'cuda', deviceId } : 'cpu')),
  };
}

/** The same options on the CPU alone: what a session falls back to when its GPU provider fails. */
export function cpuFallbackOptions(options: InferenceSession.SessionOptions): InferenceSession.SessionOptions {
  return { ...options, executionProviders: ['cpu'] };
}

