// Flags several commands share, in the table format of flags.ts.
import { LOG_FORMATS, LOG_LEVELS } from '../lib/log.js';
import type { FlagSpec } from '../lib/flags.js';

export const HOST_FLAG = { type: 'string', default: '127.0.0.1', placeholder: 'address', description: 'address to listen on' } as const satisfies FlagSpec<'string'>;
export const LOG_LEVEL_FLAG = { type: 'string', default: 'info', choices: LOG_LEVELS, description: 'least severe level logged' } as const satisfies FlagSpec<'string'>;
export const LOG_FORMAT_FLAG = {
  type: 'string',
  default: 'auto',
  choices: ['auto', ...LOG_FORMATS],
  description: 'json lines, or pretty lines for a person; auto is pretty on a terminal, json otherwise',
} as const satisfies FlagSpec<'string'>;
export const DRAIN_FLAG = { type: 'int', default: 10_000, placeholder: 'ms', description: 'how long shutdown waits for in-flight calls' } as const satisfies FlagSpec<'int'>;
export const DATA_FLAG = { type: 'string', default: './.sluice', placeholder: 'dir', description: 'control-plane data folder (SQLite database, artifacts, keys)' } as const satisfies FlagSpec<'string'>;
export const DB_FLAG = { type: 'string', placeholder: 'postgres://…', description: 'store in this PostgreSQL database instead of SQLite' } as const satisfies FlagSpec<'string'>;
/** Commands that call a running control plane's GraphQL API. */
export const CONTROL_PLANE_FLAG = { type: 'string', default: 'http://127.0.0.1:8080', placeholder: 'url', description: 'control plane URL' } as const satisfies FlagSpec<'string'>;
export function tokenFlag(description: string) {
  return { type: 'string', required: true, description } as const satisfies FlagSpec<'string'>;
}
/** Promote past a failed promotion gate (docs/gates.md): admins only, audited as gate.override with the reason. */
export const GATE_OVERRIDE_FLAG = { type: 'string', placeholder: 'reason', description: 'admin only: promote although the gate failed, for this reason (audited)' } as const satisfies FlagSpec<'string'>;
/** A file holding the PostgreSQL URL (0600), so its password stays out of `ps`; SLUICE_DATABASE_URL works too. */
export const DB_FILE_FLAG = { type: 'string', placeholder: 'path', description: 'read the PostgreSQL URL from this file (mode 0600) instead of --db' } as const satisfies FlagSpec<'string'>;
