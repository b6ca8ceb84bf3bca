import t from 'tap';
import { ERRORS, ERROR_STATUS, SluiceError, toSluiceError, type ErrorCode } from '../../lib/errors.js';

t.test('every code has one HTTP error status and a summary, and its prefix names the family', async (t) => {
  for (const [code, e] of Object.entries(ERRORS)) {
    t.match(code, /^SLUICE_E_[A-Z]+(_[A-Z]+)*$/, code);
    t.ok(e.status >= 400 && e.status <= 599, `${code}: status ${e.status}`);
    t.ok(e.summary.length > 0, `${code}: summary`);
    t.equal(ERROR_STATUS[code as ErrorCode], e.status, `${code}: ERROR_STATUS agrees`);
  }
});

t.test('an error without a message carries its code\'s summary; the wire form is error + code', async (t) => {
  const e = new SluiceError('SLUICE_E_BATCH_QUEUE_FULL');
  t.equal(e.status, 503);
  t.equal(e.message, ERRORS.SLUICE_E_BATCH_QUEUE_FULL.summary);
  t.same(JSON.parse(JSON.stringify(new SluiceError('SLUICE_E_MODEL_NOT_FOUND', 'model x is not loaded'))), { error: 'model x is not loaded', code: 'SLUICE_E_MODEL_NOT_FOUND' });
});

t.test('a foreign error is mapped to the fallback code with its message withheld', async (t) => {
  const e = toSluiceError(new Error('/secret/path: ENOENT'), 'SLUICE_E_MODEL_RUN_FAILED');
  t.equal(e.code, 'SLUICE_E_MODEL_RUN_FAILED');
  t.notMatch(e.message, /secret/);
  t.type(e.cause, Error);
});
