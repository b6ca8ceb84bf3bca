// The outcome label of a failed call, which the traffic windows read too: refusals for room are
// `rejected` (counted apart from a version's errors), a caller's mistakes are client errors.
import t from 'tap';
import { ERRORS, type ErrorCode } from '../../../lib/errors.js';
import { outcomeOf } from '../../../gateway/metrics/metrics.js';

const outcome = (code: ErrorCode) => outcomeOf(code, ERRORS[code].status);

t.test('refusals at admission for room are rejected, whichever stage refused', async (t) => {
  for (const code of ['SLUICE_E_BATCH_QUEUE_FULL', 'SLUICE_E_BATCH_QUEUE_LATE', 'SLUICE_E_MODEL_NOT_READY', 'SLUICE_E_HTTP_DRAINING', 'SLUICE_E_BUDGET_DECODE_BUSY', 'SLUICE_E_BUDGET_OVERLOADED', 'SLUICE_E_BUDGET_CONNECTIONS', 'SLUICE_E_BUDGET_BODY_BUSY'] as const) {
    t.equal(outcome(code), 'rejected', code);
  }
});

t.test('a deadline passed is a timeout, a runtime failure a server error, a caller\'s mistake or rate limit a client error', async (t) => {
  t.equal(outcome('SLUICE_E_BATCH_TIMEOUT'), 'timeout');
  t.equal(outcome('SLUICE_E_WORKER_CRASHED'), 'server_error');
  t.equal(outcome('SLUICE_E_INTERNAL'), 'server_error');
  t.equal(outcome('SLUICE_E_BATCH_CANCELLED'), 'cancelled');
  for (const code of ['SLUICE_E_BUDGET_PIXELS', 'SLUICE_E_BUDGET_BODY_TIMEOUT', 'SLUICE_E_GATEWAY_RATE_LIMITED', 'SLUICE_E_PROTOCOL_BAD_PARAMETER'] as const) {
    t.equal(outcome(code), 'client_error', code);
  }
  t.equal(outcomeOf(undefined, 200), 'success');
});
