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
