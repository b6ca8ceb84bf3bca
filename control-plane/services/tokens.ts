// Opaque bearer tokens. The secret is 32 random bytes shown once at creation; the store keeps only
// its SHA-256 (a fast hash is enough: the secret has 256 bits of entropy, nothing to brute-force).
import { createHash, randomBytes } from 'node:crypto';
import { SluiceError } from '../../lib/errors.js';
import type { Store } from '../store/db.js';
import type { TokenTable } from '../store/tables.js';
import { isRole, type Actor, type CallContext, type Role } from './actor.js';
import { DEFAULT_GATEWAY_SCOPES } from './permissions.js';
import type { WireAccessToken } from '../../lib/sync-wire.js';
import type { AuditLog } from './audit.js';
import { newId, now } from './ids.js';
import { decodeCursor, pageSize, toConnection, type Connection, type PageArgs } from './pagination.js';

const SECRET_PREFIX = 'sluice_';
const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$/;
const GATEWAY_SCOPE = /^(?:infer:\*|infer:[A-Za-z0-9][A-Za-z0-9._-]{0,127}|metrics|repository)$/;
const MAX_SCOPES = 64;

export interface Token {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  createdBy: string | null;
  revokedAt: string | null;
  /** Gateway scopes in effect: the explicit ones, or the role's defaults. */
  scopes: string[];
  /** Calls per second on gateways, and the burst; null: the gateway's default. */
  rateLimit: number | null;
  rateBurst: number | null;
}

export interface CreateTokenInput {
  name: string;
  role: string;
  /** Gateway scopes; omitted or null: the role's defaults. */
  scopes?: readonly string[] | null | undefined;
  rateLimit?: number | null | undefined;
  rateBurst?: number | null | undefined;
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
    /** Called after a token is created or revoked: the gateways' access list changed. */
    private readonly onChange: () => void = () => {},
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
  async create(ctx: CallContext, input: CreateTokenInput, secret: string = generateSecret()): Promise<{ token: Token; secret: string }> {
    const name = input.name.trim();
    if (!NAME.test(name)) throw new SluiceError('SLUICE_E_VALIDATION', 'token name must be 1-64 letters, digits, space or ._@-', { details: { field: 'name' } });
    if (!isRole(input.role)) throw new SluiceError('SLUICE_E_VALIDATION', `unknown role ${input.role}`, { details: { field: 'role' } });
    const limits = validLimits(input);
    const row: TokenTable = {
      id: newId('tok'),
      name,
      role: input.role,
      secret_hash: hashSecret(secret),
      created_at: now(),
      created_by: ctx.actor.id,
      revoked_at: null,
      scopes: input.scopes == null ? null : JSON.stringify(validScopes(input.scopes)),
      rate_limit: limits.rateLimit,
      rate_burst: limits.rateBurst,
    };
    const token = await this.audit.audited(ctx, 'token.create', `token/${row.id}`, async (tx) => {
      await tx.insertInto('tokens').values(row).execute();
      const token = toToken(row);
      const after: Record<string, unknown> = { id: token.id, name: token.name, role: token.role };
      // Only what was chosen: events of tokens made with the defaults read as before.
      if (row.scopes !== null) after.scopes = token.scopes;
      if (row.rate_limit !== null) Object.assign(after, { rateLimit: row.rate_limit, rateBurst: row.rate_burst });
      return { result: token, after };
    });
    this.onChange();
    return { token, secret };
  }

  /** Every live token with gateway scopes, as gateways check them (desired state `access`). */
  async gatewayAccess(): Promise<WireAccessToken[]> {
    const rows = await this.store.db.selectFrom('tokens').selectAll().where('revoked_at', 'is', null).orderBy('id').execute();
    return rows.flatMap((r) => {
      const t = toToken(r);
      return t.scopes.length === 0 ? [] : [{ sha256: r.secret_hash, name: t.name, scopes: t.scopes, rateLimit: t.rateLimit, rateBurst: t.rateBurst }];
    });
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
    }).finally(() => this.onChange());
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
  const scopes = r.scopes === null ? [...(DEFAULT_GATEWAY_SCOPES[r.role as Role] ?? [])] : (JSON.parse(r.scopes) as string[]);
  const rateLimit = r.rate_limit === null ? null : Number(r.rate_limit);
  return {
    id: r.id, name: r.name, role: r.role as Role, createdAt: r.created_at, createdBy: r.created_by, revokedAt: r.revoked_at,
    scopes, rateLimit, rateBurst: r.rate_burst === null ? null : Number(r.rate_burst),
  };
}

function validScopes(scopes: readonly string[]): string[] {
  if (scopes.length > MAX_SCOPES) throw new SluiceError('SLUICE_E_VALIDATION', `a token has at most ${MAX_SCOPES} gateway scopes`, { details: { field: 'scopes' } });
  const bad = scopes.find((s) => !GATEWAY_SCOPE.test(s));
  if (bad !== undefined) throw new SluiceError('SLUICE_E_VALIDATION', `unknown gateway scope ${JSON.stringify(bad.slice(0, 140))}: use infer:*, infer:<model>, metrics or repository`, { details: { field: 'scopes' } });
  return [...new Set(scopes)];
}

function validLimits(input: CreateTokenInput): { rateLimit: number | null; rateBurst: number | null } {
  const rate = input.rateLimit ?? null;
  const burst = input.rateBurst ?? null;
  if (rate === null) {
    if (burst !== null) throw new SluiceError('SLUICE_E_VALIDATION', 'rateBurst needs rateLimit', { details: { field: 'rateBurst' } });
    return { rateLimit: null, rateBurst: null };
  }
  if (!(Number.isFinite(rate) && rate > 0 && rate <= 1e6)) throw new SluiceError('SLUICE_E_VALIDATION', 'rateLimit must be calls per second, above 0 and at most 1000000', { details: { field: 'rateLimit' } });
  if (burst !== null && !(Number.isInteger(burst) && burst >= 1 && burst <= 1e6)) throw new SluiceError('SLUICE_E_VALIDATION', 'rateBurst must be a whole number from 1 to 1000000', { details: { field: 'rateBurst' } });
  return { rateLimit: rate, rateBurst: burst ?? Math.max(1, Math.ceil(rate)) };
}
