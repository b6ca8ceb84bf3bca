import { randomBytes } from 'node:crypto';
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

const LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Structured logs (pino, JSON lines on stdout). The hot path logs nothing at `info` per request;
 * request-scoped logs carry `req` (the request id) through `logger.child({ req })`.
 */
export function createLogger(name: string, level: string = process.env.SLUICE_LOG_LEVEL ?? 'info', fd: 1 | 2 = 1): Logger {
  const lvl = (LEVELS as readonly string[]).includes(level) ? (level as LevelWithSilent) : 'info';
  // fd 2 for commands whose stdout is data (audit-export prints JSON lines).
  return pino({ name, level: lvl, base: { pid: process.pid } }, pino.destination({ fd, sync: true }));
}

let counter = 0;
const prefix = randomBytes(4).toString('hex');

/** A request id unique to this process lifetime; cheap (no crypto call per request). */
export function nextRequestId(): string {
  counter = (counter + 1) >>> 0;
  return `${prefix}-${counter.toString(36)}`;
}
