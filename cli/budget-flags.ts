// The gateway's front budgets as flags (docs/budgets.md), shared by `sluice gateway` and `sluice serve`.
import type { FlagSpec } from '../lib/flags.js';
import { BUDGET_DEFAULTS, type BudgetSettings } from '../gateway/server/admission.js';

const int = (value: number, placeholder: string, description: string) =>
  ({ type: 'int', default: value, placeholder, description }) as const satisfies FlagSpec<'int'>;

export const BUDGET_FLAGS = {
  'max-connections': int(BUDGET_DEFAULTS.maxConnections, 'n', 'open HTTP calls plus WebSocket connections; past it, 503 and the connection closed'),
  'body-budget-bytes': int(BUDGET_DEFAULTS.bodyBudgetBytes, 'bytes', 'request body bytes held at once by the whole gateway (reserved on content-length); past it, 503'),
  'body-timeout-ms': int(BUDGET_DEFAULTS.bodyTimeoutMs, 'ms', 'a whole request body must arrive within this time of its headers; else 408'),
  'max-event-loop-lag-ms': int(BUDGET_DEFAULTS.maxEventLoopLagMs, 'ms', 'event-loop lag past which new calls are refused with 503 before parsing (0 = never)'),
  'max-concurrent-decodes': int(BUDGET_DEFAULTS.maxConcurrentDecodes, 'n', 'image decodes running at once; past it, 503'),
  'max-pixels-per-request': int(BUDGET_DEFAULTS.maxPixelsPerRequest, 'pixels', 'pixels the images of one request input may declare; past it, 413'),
  'listen-backlog': int(BUDGET_DEFAULTS.listenBacklog, 'n', "new connections the kernel queues before the gateway accepts them (capped by net.core.somaxconn); past it, dropped. 0: 4096, scaled down by a CPU quota below one core"),
} as const;

type BudgetFlagValues = { [K in keyof typeof BUDGET_FLAGS]: number };

/** The flag values as the gateway's budget settings. */
export function budgetsFrom(v: BudgetFlagValues): BudgetSettings {
  return {
    maxConnections: v['max-connections'],
    bodyBudgetBytes: v['body-budget-bytes'],
    bodyTimeoutMs: v['body-timeout-ms'],
    maxEventLoopLagMs: v['max-event-loop-lag-ms'],
    maxConcurrentDecodes: v['max-concurrent-decodes'],
    maxPixelsPerRequest: v['max-pixels-per-request'],
    listenBacklog: v['listen-backlog'],
  };
}
