// Opaque bearer tokens. The secret is 32 random bytes shown once at creation; the store keeps only
// its SHA-256 (a fast hash is enough: the secret has 256 bits of entropy, nothing to brute-force).
import { createHash, randomBytes } from 'node:crypto';
import { SluiceError } from '../../lib/errors.js';
import type { Store } from '../store/db.js';
import type { TokenTable } from '../store/tables.js';
import { isRole, type Actor, type CallContext, type Role } from './actor.js';
import type { AuditLog } from './audit.js';
import { newId, now } from './ids.js';
import { decodeCursor, pageSize, toConnection, type Connection, type PageArgs } from './pagination.js';

const SECRET_PREFIX = 'sluice_';
const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$/;

export interface Token {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  createdBy: string | null;
  revokedAt: string | null;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64url');
}

export class TokenService {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
  ) {}

  /** The actor behind `Authorization: Bearer <secret>`, or undefined for an unknown or revoked token. */
  async authenticate(secret: string): Promise<Actor | undefined> {
    const row = await this.store.db
      .selectFrom('tokens')
      .select(['id', 'name', 'role'])
      .where('secret_hash', '=', hashSecret(secret))
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row || !isRole(row.role)) return undefined;
    return { id: row.id, name: row.name, role: row.role };
  }

  /** Create a token; `secret` is given only by the bootstrap (SLUICE_ADMIN_TOKEN), otherwise generated. */
  async create(ctx: CallContext, input: { name: string; role: string }, secret: string = generateSecret()): Promise<{ token: Token; secret: string }> {
    const name = input.name.trim();
    if (!NAME.test(name)) throw new SluiceError('SLUICE_E_VALIDATION', 'token name must be 1-64 letters, digits, space or ._@-', { details: { field: 'name' } });
    if (!isRole(input.role)) throw new SluiceError('SLUICE_E_VALIDATION', `unknown role ${input.role}`, { details: { field: 'role' } });
    const row: TokenTable = {
      id: newId('tok'),
      name,
      role: input.role,
      secret_hash: hashSecret(secret),
      created_at: now(),
      created_by: ctx.actor.id,
      revoked_at: null,
    };
    const token = await this.audit.audited(ctx, 'token.create', `token/${row.id}`, async (tx) => {
      await tx.insertInto('tokens').values(row).execute();
      const token = toToken(row);
      return { result: token, after: { id: token.id, name: token.name, role: token.role } };
    });
    return { token, secret };
  }

  async revoke(ctx: CallContext, id: string): Promise<Token> {
    return this.audit.audited(ctx, 'token.revoke', `token/${id}`, async (tx) => {
      const row = await this.store.forUpdate(tx.selectFrom('tokens').selectAll().where('id', '=', id)).executeTakeFirst();
      if (!row) throw new SluiceError('SLUICE_E_STORE_NOT_FOUND', `no token ${id}`, { details: { id } });
      if (row.revoked_at !== null) return { result: toToken(row) };
      if (row.id === ctx.actor.id) throw new SluiceError('SLUICE_E_VALIDATION', 'a token cannot revoke itself', { details: { id } });
      const revoked = { ...row, revoked_at: now() };
      await tx.updateTable('tokens').set({ revoked_at: revoked.revoked_at }).where('id', '=', id).execute();
      return { result: toToken(revoked), before: { revokedAt: null }, after: { revokedAt: revoked.revoked_at } };
    });
  }

  async list(page: PageArgs): Promise<Connection<Token>> {
    const size = pageSize(page.first);
    const after = decodeCursor('tokens', page.after);
    let q = this.store.db.selectFrom('tokens').selectAll();
    if (after !== undefined) q = q.where('id', '>', after);
    const rows = await q.orderBy('id').limit(size + 1).execute();
    return toConnection(rows, size, 'tokens', (r) => r.id, toToken, page.after);
  }

  async count(): Promise<number> {
    const row = await this.store.db.selectFrom('tokens').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }
}

function toToken(r: TokenTable): Token {
  return { id: r.id, name: r.name, role: r.role as Role, createdAt: r.created_at, createdBy: r.created_by, revokedAt: r.revoked_at };
}
