import { GraphQLScalarType, Kind, valueFromASTUntyped } from 'graphql';
import { SluiceError } from '../../lib/errors.js';

function parseTime(value: unknown): string {
  const t = typeof value === 'string' ? Date.parse(value) : NaN;
  if (Number.isNaN(t)) throw new SluiceError('SLUICE_E_VALIDATION', 'DateTime must be an ISO-8601 string');
  return new Date(t).toISOString();
}

export const scalarResolvers = {
  DateTime: new GraphQLScalarType({
    name: 'DateTime',
    serialize: (v) => v,
    parseValue: parseTime,
    parseLiteral: (ast) => parseTime(ast.kind === Kind.STRING ? ast.value : undefined),
  }),
  JSON: new GraphQLScalarType({
    name: 'JSON',
    serialize: (v) => v,
    parseValue: (v) => v,
    parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
  }),
};

/** GraphQL enum values ↔ the lower-case values the services store. */
export const enumResolvers = {
  Role: { VIEWER: 'viewer', DEVELOPER: 'developer', OPERATOR: 'operator', ADMIN: 'admin', GATEWAY: 'gateway', RUNNER: 'runner' },
  ModelVersionStatus: { READY: 'ready', ARCHIVED: 'archived' },
  AuditOutcome: { SUCCESS: 'success', DENIED: 'denied', FAILED: 'failed' },
  AuditBreakReason: { HASH_MISMATCH: 'hash-mismatch', LINK_MISMATCH: 'link-mismatch', MISSING_EVENT: 'missing-event', HEAD_MISMATCH: 'head-mismatch' },
  AuditCheckpointBreakReason: { BAD_SIGNATURE: 'bad-signature', EVENT_MISSING: 'event-missing', HASH_MISMATCH: 'hash-mismatch', OUT_OF_ORDER: 'out-of-order' },
  GatewayHealth: { HEALTHY: 'healthy', DEGRADED: 'degraded', UNHEALTHY: 'unhealthy', UNKNOWN: 'unknown' },
  GatewayStatus: { CONNECTED: 'connected', STALE: 'stale', NEVER: 'never' },
  TrainingJobStatus: { QUEUED: 'queued', RUNNING: 'running', SUCCEEDED: 'succeeded', FAILED: 'failed', CANCELLED: 'cancelled', TIMED_OUT: 'timed_out' },
  TrainingOutcome: { SUCCEEDED: 'succeeded', FAILED: 'failed', CANCELLED: 'cancelled', TIMED_OUT: 'timed_out' },
  TrainerKind: { COMMAND: 'command', BUILTIN: 'builtin' },
  SweepMethod: { GRID: 'grid', RANDOM: 'random' },
  SweepGoal: { MIN: 'min', MAX: 'max' },
  DataColumnType: { NUMBER: 'number', INTEGER: 'integer', STRING: 'string' },
};
