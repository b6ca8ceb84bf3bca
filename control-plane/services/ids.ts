import { randomBytes } from 'node:crypto';

/** A time-ordered opaque id (`tok_…`, `mdl_…`): sorting by id sorts by creation, which pagination uses. */
export function newId(prefix: string): string {
  return `${prefix}_${Date.now().toString(36).padStart(9, '0')}${randomBytes(8).toString('hex')}`;
}

/** Now as the ISO-8601 UTC text the store keeps (the same bytes on SQLite and PostgreSQL). */
export function now(): string {
  return new Date().toISOString();
}
