import t from 'tap';
import { parseModelConfig } from '../../../gateway/models/config.js';

t.test('an empty config gets Triton-like defaults', async (t) => {
  const c = parseModelConfig('m', {});
  t.equal(c.name, 'm');
  t.equal(c.max_batch_size, 8);
  t.same(c.dynamic_batching, {
    max_queue_delay_us: 500,
    preferred_batch_sizes: [],
    max_queue_size: 1024,
    default_timeout_us: 0,
    priority_levels: 1,
    default_priority_level: 1,
    staged_batches: 0,
    inline_max_us: 2000,
    adaptive_delay: true,
  });
  t.ok(c.instances >= 1);
  t.equal(c.intra_op_threads, 1);
  t.same(c.execution_providers, ['cpu']);
  t.same(c.version_policy, { latest: { num_versions: 1 } });
  t.same(c.routing, {});
  t.same(c.warmup, []);
  t.equal(c.input, undefined, 'inputs come from the model when omitted');
});

t.test('adaptive_delay is on by default and must be a boolean', async (t) => {
  t.equal(parseModelConfig('m', { dynamic_batching: { adaptive_delay: false } }).dynamic_batching.adaptive_delay, false);
  t.throws(() => parseModelConfig('m', { dynamic_batching: { adaptive_delay: 'yes' } }), { code: 'SLUICE_E_CONFIG_INVALID', message: /adaptive_delay/ });
});

t.test('inline_max_us defaults to 2000 µs, 0 turns inline runs off, and bad values are refused naming the field', async (t) => {
  t.equal(parseModelConfig('m', {}).dynamic_batching.inline_max_us, 2000);
  t.equal(parseModelConfig('m', { dynamic_batching: { inline_max_us: 0 } }).dynamic_batching.inline_max_us, 0);
  for (const bad of [-1, 1.5, 'fast', 100_001]) {
    t.throws(() => parseModelConfig('m', { dynamic_batching: { inline_max_us: bad } }), { code: 'SLUICE_E_CONFIG_INVALID', details: { field: 'dynamic_batching.inline_max_us' } }, `${JSON.stringify(bad)} is refused`);
  }
});

t.test('staged_batches is off by default and range-checked', async (t) => {
  t.equal(parseModelConfig('m', { instances: 3 }).dynamic_batching.staged_batches, 0);
  t.equal(parseModelConfig('m', { instances: 3, dynamic_batching: { staged_batches: 2 } }).dynamic_batching.staged_batches, 2);
  t.throws(() => parseModelConfig('m', { dynamic_batching: { staged_batches: -1 } }), { code: 'SLUICE_E_CONFIG_INVALID', message: /dynamic_batching\.staged_batches must be an integer from 0 to 64/ });
  t.throws(() => parseModelConfig('m', { dynamic_batching: { staged_batches: 'many' } }), { code: 'SLUICE_E_CONFIG_INVALID', message: /staged_batches/ });
});

t.test('a full config is kept, preferred sizes sorted', async (t) => {
  const c = parseModelConfig('img', {
    name: 'img',
    max_batch_size: 16,
    input: [{ name: 'x', datatype: 'FP16', dims: [3, -1, 192] }],
    dynamic_batching: { preferred_batch_sizes: [8, 2], priority_levels: 3, default_timeout_us: 5000 },
    version_policy: { specific: { versions: [1, '3'] } },
    routing: { default_version: 3, weights: { '1': 10, '3': 90 } },
    warmup: [{ batch_size: 4, count: 2 }],
    preprocess: [{ input: 'image', target: 'x', fit: 'height', channel_order: 'BGR', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }],
    drift: { profile: 'profile.json', thresholds: { temp_max: { psi_alert: 0.3 } } },
  });
  t.same(c.input, [{ name: 'x', datatype: 'FP16', dims: [3, -1, 192] }]);
  t.same(c.dynamic_batching.preferred_batch_sizes, [2, 8]);
  t.equal(c.dynamic_batching.default_priority_level, 3, 'default priority is the lowest level');
  t.same(c.version_policy, { specific: { versions: ['1', '3'] } });
  t.same(c.routing, { default_version: '3', weights: { '1': 10, '3': 90 } });
  t.equal(c.preprocess![0]!.scale, 1 / 255);
  t.equal(c.preprocess![0]!.layout, 'NCHW');
  t.same(c.drift!.thresholds!.temp_max, { psi_warn: 0.1, psi_alert: 0.3 });
});

t.test('each bad field is refused with SLUICE_E_CONFIG_INVALID naming the field', async (t) => {
  const cases: [unknown, RegExp][] = [
    [[], /\(root\) must be a JSON object/],
    [{ name: 'other' }, /name must match the folder name m/],
    [{ platform: 'tensorflow' }, /platform must be onnxruntime/],
    [{ max_batch_size: -1 }, /max_batch_size must be an integer/],
    [{ max_batch_size: 1.5 }, /max_batch_size must be an integer/],
    [{ input: {} }, /input must be an array/],
    [{ input: [{ name: '', datatype: 'FP32', dims: [1] }] }, /input\[0\]\.name/],
    [{ input: [{ name: 'x', datatype: 'FLOAT', dims: [1] }] }, /input\[0\]\.datatype must be one of/],
    [{ input: [{ name: 'x', datatype: 'FP32', dims: [0] }] }, /input\[0\]\.dims/],
    [{ dynamic_batching: { preferred_batch_sizes: [64] } }, /preferred_batch_sizes must be integers from 1 to max_batch_size \(8\)/],
    [{ dynamic_batching: { max_queue_size: 0 } }, /max_queue_size/],
    [{ dynamic_batching: 'fast' }, /dynamic_batching must be an object/],
    [{ dynamic_batching: { priority_levels: 2, default_priority_level: 3 } }, /default_priority_level/],
    [{ execution_providers: ['tpu'] }, /execution_providers/],
    [{ version_policy: { newest: 1 } }, /version_policy must have one of/],
    [{ version_policy: { specific: { versions: [] } } }, /version_policy\.specific\.versions/],
    [{ routing: { weights: { v1: 1 } } }, /routing\.weights\.v1 must be keyed by a version number/],
    [{ routing: { weights: { '1': -1 } } }, /routing\.weights\.1 must be a number/],
    [{ warmup: [{ batch_size: 99 }] }, /warmup\[0\]\.batch_size/],
    [{ preprocess: [{ input: 'image', target: 'x', std: [1, 0, 1] }] }, /preprocess\[0\]\.std must not contain 0/],
    [{ preprocess: [{ input: 'image', target: 'x', mean: [1] }] }, /preprocess\[0\]\.mean must be 3 numbers/],
    [{ drift: { sample_fraction: 0.5 } }, /drift\.profile/],
    [{ drift: { profile: 'p.json', sample_fraction: 2 } }, /drift\.sample_fraction/],
    [{ parameters: [] }, /parameters must be an object/],
  ];
  for (const [raw, message] of cases) {
    t.throws(() => parseModelConfig('m', raw), { code: 'SLUICE_E_CONFIG_INVALID', status: 400, message }, String(message));
  }
});

t.test('feedback: absent means on with defaults, true the same, false off; the window follows drift; bad fields are named', async (t) => {
  t.equal(parseModelConfig('m', {}).feedback, undefined, 'absent: read from the outputs, defaults');
  t.same(parseModelConfig('m', { feedback: true }).feedback, { ttl_seconds: 3600, capacity: 100_000, window_seconds: 300 });
  t.equal(parseModelConfig('m', { feedback: false }).feedback, false);
  const withDrift = parseModelConfig('m', { drift: { profile: 'p.json', window_seconds: 60 }, feedback: { output: 'y', task: 'regression', ttl_seconds: 10, capacity: 5 } });
  t.same(withDrift.feedback, { ttl_seconds: 10, capacity: 5, window_seconds: 60, output: 'y', task: 'regression' }, 'the drift window is the default accuracy window');
  for (const [feedback, field] of [
    ['yes', 'feedback'], [{ ttl_seconds: 0 }, 'feedback.ttl_seconds'], [{ capacity: 1.5 }, 'feedback.capacity'],
    [{ task: 'ranking' }, 'feedback.task'], [{ output: '' }, 'feedback.output'], [{ window_seconds: -1 }, 'feedback.window_seconds'],
  ] as const) {
    t.throws(() => parseModelConfig('m', { feedback }), { code: 'SLUICE_E_CONFIG_INVALID', details: { field } }, `${JSON.stringify(feedback)} is refused naming ${field}`);
  }
});
