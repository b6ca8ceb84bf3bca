import t from 'tap';
import { SluiceError } from '../../lib/errors.js';
import { createLogger, PrettyLines } from '../../lib/log.js';

function collecting(): { lines: Record<string, any>[]; stream: { write: (s: string) => void } } {
  const lines: Record<string, any>[] = [];
  return { lines, stream: { write: (s: string) => void lines.push(JSON.parse(s)) } };
}

t.test('an expected error logged as an error becomes a warning with its code and no stack', async (t) => {
  const { lines, stream } = collecting();
  const logger = createLogger('test', 'info', 1, stream);
  logger.error({ err: new SluiceError('SLUICE_E_HTTP_DRAINING', 'the gateway is not ready') }, 'request failed');
  logger.error({ err: new SluiceError('SLUICE_E_BATCH_TIMEOUT', 'deadline passed') }, 'request failed');
  logger.error({ err: new SluiceError('SLUICE_E_HTTP_BAD_JSON', 'not JSON') }, 'request failed');
  t.same(lines.map((l) => l.level), [40, 40, 40]);
  t.same(lines.map((l) => l.err), [
    { type: 'SluiceError', code: 'SLUICE_E_HTTP_DRAINING', message: 'the gateway is not ready' },
    { type: 'SluiceError', code: 'SLUICE_E_BATCH_TIMEOUT', message: 'deadline passed' },
    { type: 'SluiceError', code: 'SLUICE_E_HTTP_BAD_JSON', message: 'not JSON' },
  ]);
});

t.test('an unexpected error stays an error with its stack', async (t) => {
  const { lines, stream } = collecting();
  const logger = createLogger('test', 'info', 1, stream);
  logger.error({ err: new SluiceError('SLUICE_E_WORKER_CRASHED', 'worker died') }, 'request failed');
  logger.error({ err: new TypeError('boom') }, 'request failed');
  t.same(lines.map((l) => l.level), [50, 50]);
  t.match(lines[0]!.err, { code: 'SLUICE_E_WORKER_CRASHED', stack: /SluiceError: worker died\n\s+at / });
  t.match(lines[1]!.err, { type: 'TypeError', stack: /TypeError: boom\n\s+at / });
});

t.test('pretty lines name the service and component, hold info until released, and show expected errors in one line', async (t) => {
  const out: string[] = [];
  const pretty = new PrettyLines(1, (s) => void out.push(s));
  const logger = createLogger('test', 'info', 1, pretty).child({ service: 'gateway' }).child({ component: 'sync' });
  pretty.holdBelow = 40;
  logger.info({ model: 'weather' }, 'held back');
  logger.warn({ model: 'weather' }, 'shown');
  pretty.holdBelow = 0;
  logger.error({ err: new SluiceError('SLUICE_E_HTTP_DRAINING', 'not ready') }, 'request failed');
  t.equal(out.length, 2);
  t.match(out[0], /^\d\d:\d\d:\d\d WARN  gateway\/sync  shown  model=weather\n$/);
  t.match(out[1], /^\d\d:\d\d:\d\d WARN  gateway\/sync  request failed  error=SLUICE_E_HTTP_DRAINING: not ready\n$/);
});

t.test('every line is redacted: secret fields by name, URL passwords and token secrets wherever they appear', async (t) => {
  const raw: string[] = [];
  const logger = createLogger('test', 'info', 1, { write: (s: string) => void raw.push(s) });
  const token = `sluice_${'A1b2-C3d4_'.repeat(4)}xyz`;
  const url = 'postgres://app:hunter2-secret@db.internal:5432/sluice';
  logger.info({ adminToken: 'chosen-token-0123456789', db: url, request: { authorization: 'Bearer abc' } }, 'fields');
  logger.warn(`could not connect to ${url}`);
  logger.error({ err: new Error(`token ${token} was refused`) }, 'message of an error');
  logger.info({ controlPlane: 'http://127.0.0.1:8080', tokenId: 'tok_1', model: 'sluice_metric_name' }, 'nothing secret');
  const text = raw.join('');
  for (const secret of ['chosen-token-0123456789', 'hunter2-secret', token, 'Bearer abc']) t.notOk(text.includes(secret), `${secret.slice(0, 12)}... is not written`);
  const lines = raw.map((l) => JSON.parse(l) as Record<string, any>);
  t.equal(lines[1]!.msg, 'could not connect to postgres://app:[redacted]@db.internal:5432/sluice', 'the URL keeps its user and host');
  t.match(lines[2]!.err.message, 'token sluice_[redacted] was refused');
  t.same(lines[3], { ...lines[3], controlPlane: 'http://127.0.0.1:8080', tokenId: 'tok_1', model: 'sluice_metric_name' }, 'other fields are untouched');
});
