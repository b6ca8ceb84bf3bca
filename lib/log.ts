import { randomBytes } from 'node:crypto';
import { writeSync } from 'node:fs';
import { pino, type Logger, type LevelWithSilent, type DestinationStream } from 'pino';
import { isSluiceError } from './errors.js';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LevelWithSilent[];
/** `json`: pino's JSON lines, for machines. `pretty`: one readable line per event, for a person at a terminal. */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * Structured logs (pino). The hot path logs nothing at `info` per request; request-scoped logs
 * carry `req` (the request id) through `logger.child({ req })`. The process-level part a log line
 * comes from is `service` (gateway, control-plane); `component` names a module inside it.
 */
export function createLogger(name: string, level: string = process.env.SLUICE_LOG_LEVEL ?? 'info', fd: 1 | 2 = 1, output: 'json' | DestinationStream = 'json'): Logger {
  const lvl = (LOG_LEVELS as readonly string[]).includes(level) ? (level as LevelWithSilent) : 'info';
  // fd 2 for commands whose stdout is data (audit-export prints JSON lines).
  const destination: DestinationStream = output === 'json' ? pino.destination({ fd, sync: true }) : output;
  return pino(
    {
      name,
      level: lvl,
      base: { pid: process.pid },
      serializers: { err: serializeError },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      hooks: {
        // Known keys are redacted by path; this catches secrets inside any string of the line (a
        // message quoting a database URL, an error echoing a token) after serialization.
        streamWrite: redactSecrets,
        // An expected error logged at `error` (a 503 while draining, a client's deadline) is a warning.
        logMethod(args, method, level) {
          const first: unknown = args[0];
          if (level === 50 && typeof first === 'object' && first !== null && isExpectedError((first as { err?: unknown }).err)) {
            return this.warn(...(args as Parameters<Logger['warn']>));
          }
          return method.apply(this, args);
        },
      },
    },
    destination,
  );
}

/** Fields that hold secrets wherever they appear (one level deep, as they are logged). */
const SECRET_KEYS = ['adminToken', 'token', 'secret', 'password', 'authorization', 'databaseUrl', 'db'];
export const REDACTED_PATHS = [...SECRET_KEYS, ...SECRET_KEYS.map((k) => `*.${k}`)];

/** `postgres://user:password@host` keeps the user, loses the password. */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s"]*):[^@/?#\s"]*@/gi;
/** Sluice token secrets (`sluice_` + 43 base64url characters; see control-plane/services/tokens.ts). */
const TOKEN_SECRET = /\bsluice_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g;

/** Remove URL passwords and Sluice token secrets from a serialized log line (or any text). */
export function redactSecrets(line: string): string {
  if (!line.includes('://') && !line.includes('sluice_')) return line;
  return line.replace(URL_PASSWORD, '$1:[redacted]@').replace(TOKEN_SECRET, 'sluice_[redacted]');
}

/**
 * Errors a client or a shutdown causes (a 4xx, a 503 while draining or queue-full, a missed
 * deadline) are expected: no stack, no `error` level. Anything else (a crash, a 500) is not.
 */
export function isExpectedError(err: unknown): boolean {
  return isSluiceError(err) && (err.status < 500 || err.status === 503 || err.status === 504);
}

/** Expected errors are logged as their code and message; the others with their stack. */
export function serializeError(err: unknown): unknown {
  if (isExpectedError(err)) {
    const e = err as { name: string; code: string; message: string };
    return { type: e.name, code: e.code, message: e.message };
  }
  return pino.stdSerializers.err(err as Error);
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'pid', 'name', 'msg', 'service', 'component', 'err']);

/** One line per event: `12:00:01 INFO  gateway/drift  message  key=value ...` (errors: code and message; a stack only when unexpected). */
export function formatPretty(line: string): string {
  const o = JSON.parse(line) as Record<string, unknown>;
  const time = new Date(typeof o.time === 'number' ? o.time : Date.now()).toISOString().slice(11, 19);
  const level = (LEVEL_NAMES[o.level as number] ?? String(o.level)).padEnd(5);
  const where = [o.service, o.component].filter((p) => typeof p === 'string').join('/');
  const fields = Object.entries(o)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  let text = `${time} ${level} ${where === '' ? '' : `${where}  `}${String(o.msg ?? '')}${fields.length ? `  ${fields.join(' ')}` : ''}`;
  const err = o.err as { code?: string; message?: string; stack?: string } | undefined;
  if (err) text += err.stack ? `\n${err.stack}` : `  error=${err.code ? `${err.code}: ` : ''}${err.message ?? ''}`;
  return `${text}\n`;
}

/** The `pretty` destination; `holdBelow` hides lines under a pino level number (a quiet start-up screen). */
export class PrettyLines implements DestinationStream {
  holdBelow = 0;
  readonly #write: (text: string) => void;

  constructor(fd: 1 | 2 = 1, write: (text: string) => void = (text) => void writeSync(fd, text)) {
    this.#write = write;
  }

  write(line: string): void {
    const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? 0);
    if (level >= this.holdBelow) this.#write(formatPretty(line));
  }
}

let counter = 0;
const prefix = randomBytes(4).toString('hex');

/** A request id unique to this process lifetime; cheap (no crypto call per request). */
export function nextRequestId(): string {
  counter = (counter + 1) >>> 0;
  return `${prefix}-${counter.toString(36)}`;
}
