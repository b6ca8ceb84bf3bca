import t from 'tap';
import { parseRetrainingPolicy } from '../../control-plane/services/retraining-policy.js';

const SHA = 'a'.repeat(64);
const base = { training: { trainer: { builtin: 'weather-mlp' }, dataset: { url: '/data/train.csv' } } };

function code(fn: () => unknown): { code: string; field: unknown } | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    const e = err as { code: string; details?: { field?: unknown } };
    return { code: e.code, field: e.details?.field };
  }
}

t.test('a minimal policy gets the defaults: drift or accuracy alerts, any, no rollout, an hour of cooldown', async (t) => {
  const p = parseRetrainingPolicy(base);
  t.equal(p.enabled, true);
  t.same(p.triggers, { metrics: ['drift_psi', 'accuracy'], rules: [], require: 'any' });
  t.same(p.training.dataset, { url: '/data/train.csv', sha256: null });
  t.equal(p.rollout, null);
  t.equal(p.cooldownSeconds, 3600);
});

t.test('a full policy keeps its rollout spec and training settings', async (t) => {
  const p = parseRetrainingPolicy({
    ...base,
    enabled: false,
    triggers: { metrics: ['accuracy'], rules: ['weather-accuracy'], require: 'all' },
    training: { ...base.training, dataset: { url: 'https://data.example/w.csv', sha256: SHA }, parameters: { lastYear: 2015 }, labels: ['cpu'], timeoutSeconds: 600, retries: 1 },
    rollout: { strategy: 'CANARY', steps: [{ setWeight: 20 }, { analysis: { count: 1 } }], analysis: { intervalSeconds: 2, minCalls: 10, maxErrorRate: 0.01 } },
    cooldownSeconds: 0,
  });
  t.equal(p.enabled, false);
  t.equal(p.triggers.require, 'all');
  t.same(p.training.parameters, { lastYear: 2015 });
  t.equal(p.training.retries, 1);
  t.equal(p.rollout?.strategy, 'CANARY');
  t.equal(p.cooldownSeconds, 0);
});

t.test('bad policies are refused with SLUICE_E_RETRAIN_POLICY_INVALID naming the field', async (t) => {
  const cases: [string, unknown, string][] = [
    ['not an object', [], 'policy'],
    ['unknown field', { ...base, retrain: true }, 'retrain'],
    ['unknown metric', { ...base, triggers: { metrics: ['vibes'] } }, 'triggers.metrics'],
    ['nothing to trigger on', { ...base, triggers: { metrics: [] } }, 'triggers'],
    ['bad require', { ...base, triggers: { require: 'most' } }, 'triggers.require'],
    ['no training', {}, 'training'],
    ['unknown builtin trainer', { training: { ...base.training, trainer: { builtin: 'gpt' } } }, 'training.trainer.builtin'],
    ['relative dataset path', { training: { ...base.training, dataset: { url: 'train.csv' } } }, 'training.dataset.url'],
    ['http dataset without a digest', { training: { ...base.training, dataset: { url: 'https://x.example/a.csv' } } }, 'training.dataset.sha256'],
    ['bad digest', { training: { ...base.training, dataset: { url: '/a.csv', sha256: 'abc' } } }, 'training.dataset.sha256'],
    ['bad timeout', { training: { ...base.training, timeoutSeconds: 0 } }, 'training.timeoutSeconds'],
    ['rollout naming its candidate', { ...base, rollout: { strategy: 'CANARY', candidate: 3 } }, 'rollout'],
    ['bad rollout strategy', { ...base, rollout: { strategy: 'YOLO' } }, 'rollout.strategy'],
    ['negative cooldown', { ...base, cooldownSeconds: -1 }, 'cooldownSeconds'],
  ];
  for (const [what, raw, field] of cases) {
    const e = code(() => parseRetrainingPolicy(raw));
    t.equal(e?.code, 'SLUICE_E_RETRAIN_POLICY_INVALID', what);
    t.equal(e?.field, field, `${what}: field`);
  }
});
