// The mapping from a model's config to ONNX Runtime session options, and the GPU config fields'
// validation. Pure functions: nothing here needs a GPU.
import t from 'tap';
import { CUDA_DEFAULTS, parseModelConfig } from '../../../gateway/models/config.js';
import { cpuFallbackOptions, ortSessionOptions } from '../../../gateway/workers/session-options.js';

t.test('a CPU config maps to the cpu provider with its thread count', async (t) => {
  const o = ortSessionOptions(parseModelConfig('m', { intra_op_threads: 2 }));
  t.same(o.executionProviders, ['cpu']);
  t.equal(o.intraOpNumThreads, 2);
  t.equal(o.interOpNumThreads, 1);
  t.equal(o.graphOptimizationLevel, 'all');
});

t.test('a CUDA config maps device_id to the CUDA provider option deviceId, in the config\'s order', async (t) => {
  const o = ortSessionOptions(parseModelConfig('m', { execution_providers: ['cuda', 'cpu'], device_id: 3 }));
  t.same(o.executionProviders, [{ name: 'cuda', deviceId: 3 }, 'cpu']);
  t.same(ortSessionOptions(parseModelConfig('m', { execution_providers: ['cuda'] })).executionProviders, [{ name: 'cuda', deviceId: 0 }], 'device 0 when nothing placed it');
  t.same(ortSessionOptions(parseModelConfig('m', { execution_providers: ['cuda'] }), 2).executionProviders, [{ name: 'cuda', deviceId: 2 }], 'the device placement chose');
  t.same(cpuFallbackOptions(o).executionProviders, ['cpu'], 'the fallback keeps every other option and drops CUDA');
  t.equal(cpuFallbackOptions(o).intraOpNumThreads, o.intraOpNumThreads);
});

t.test('CUDA first gives GPU defaults: one session per GPU and a large preferred batch', async (t) => {
  const gpu = parseModelConfig('m', { execution_providers: ['cuda', 'cpu'], max_batch_size: 256 });
  t.equal(gpu.instances, CUDA_DEFAULTS.instances);
  t.same(gpu.dynamic_batching.preferred_batch_sizes, [64]);
  t.same(parseModelConfig('m', { execution_providers: ['cuda'], max_batch_size: 16 }).dynamic_batching.preferred_batch_sizes, [16], 'capped at max_batch_size');
  const set = parseModelConfig('m', { execution_providers: ['cuda'], instances: 2, dynamic_batching: { preferred_batch_sizes: [8] } });
  t.equal(set.instances, 2, 'an explicit instances count wins');
  t.same(set.dynamic_batching.preferred_batch_sizes, [8]);
  const cpuFirst = parseModelConfig('m', { execution_providers: ['cpu', 'cuda'] });
  t.same(cpuFirst.dynamic_batching.preferred_batch_sizes, [], 'CPU first keeps the CPU defaults');
  t.equal(parseModelConfig('m', {}).require_provider, false);
});

t.test('GPU config fields are validated with the field named', async (t) => {
  const invalid = { code: 'SLUICE_E_CONFIG_INVALID' };
  t.throws(() => parseModelConfig('m', { device_id: -1 }), { ...invalid, details: { field: 'device_id' } });
  t.throws(() => parseModelConfig('m', { device_id: 1.5 }), { ...invalid, details: { field: 'device_id' } });
  t.throws(() => parseModelConfig('m', { require_provider: 'yes' }), { ...invalid, details: { field: 'require_provider' } });
  t.throws(() => parseModelConfig('m', { execution_providers: ['tensorrt'] }), { ...invalid, details: { field: 'execution_providers' } });
  // ORT options the Node binding would drop are refused, not silently ignored.
  t.throws(() => parseModelConfig('m', { gpu_mem_limit: 1 << 30 }), { ...invalid, details: { field: 'gpu_mem_limit' } });
  t.throws(() => parseModelConfig('m', { cuda: { cudnn_conv_algo_search: 'EXHAUSTIVE' } }), { ...invalid, details: { field: 'cudnn_conv_algo_search' } });
  t.throws(() => parseModelConfig('m', { cuda: {} }), { ...invalid, details: { field: 'cuda' } });
  t.throws(() => parseModelConfig('m', { device_id: 'any' }), { ...invalid, details: { field: 'device_id' } });
  t.equal(parseModelConfig('m', { execution_providers: ['cuda'], require_provider: true, device_id: 7 }).device_id, 7);
  t.equal(parseModelConfig('m', { execution_providers: ['cuda'] }).device_id, 'auto', 'CUDA without device_id is placed on the least loaded GPU');
  t.equal(parseModelConfig('m', { device_id: 'auto' }).device_id, 'auto');
  t.equal(parseModelConfig('m', {}).device_id, 0, 'a CPU model has no placement');
});
