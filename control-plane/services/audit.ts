// Audited writes. Every mutation runs through `audited()`: one transaction that first locks the
// chain head, then makes the change, then appends the event that describes it. Taking the head lock
// first serializes all audited transactions (no fork, no deadlock between a model row and the head);
// on SQLite the single connection already does. Denied and failed attempts are appended in a
// transaction of their own, since the change they describe was rolled back.
import { SluiceError } from '../../lib/errors.js';
import type { Store, Tx } from '../store/db.js';
import { toStoreError } from '../store/db.js';
import type { AuditEventTable } from '../store/tables.js';
import type { CallContext } from './actor.js';
import { auditEventHash, ChainVerifier, type ChainBreak } from './audit-chain.js';
import { checkCheckpoints, type CheckpointBreak, type CheckpointFile } from './audit-anchor.js';
import { DenialCounter } from './audit-denials.js';
import type { KeyObject } from 'node:crypto';
import { now } from './ids.js';
import { pageSize, decodeNumberCursor, toConnection, type Connection, type PageArgs } from './pagination.js';

export type Outcome = 'success' | 'denied' | 'failed';

export interface AuditedChange<T> {
  result: T;
  /** Overrides the resource named up front (e.g. once an id is known). */
  resource?: string;
  before?: unknown;
  after?: unknown;
}

export interface AuditEvent {
  seq: number;
  at: string;
  actorId: string;
  actorName: string;
  role: string;
  action: string;
  resource: string;
  before: unknown;
  after: unknown;
  requestId: string;
  clientAddress: string;
  outcome: Outcome;
  reason: string | null;
  prevHash: string;
  hash: string;
}

export interface AuditFilter {
  actorId?: string | null | undefined;
  action?: string | null | undefined;
  resource?: string | null | undefined;
  outcome?: Outcome | null | undefined;
  since?: string | null | undefined;
  until?: string | null | undefined;
}

export interface AuditVerification {
  ok: boolean;
  checkedEvents: number;
  firstBad: ChainBreak | null;
  /** Checkpoints checked against the database; null when no checkpoint file was given. */
  checkpoints: number | null;
  /** The first checkpoint the database disagrees with (truncation, a rewritten chain) or whose signature fails. */
  firstBadCheckpoint: CheckpointBreak | null;
}

/** Where the chain is anchored: the checkpoint file and the key its lines must be signed with. */
export interface AuditAnchoring {
  file: CheckpointFile;
  publicKey: KeyObject;
}

interface Entry {
  action: string;
  resource: string;
  outcome: Outcome;
  before?: unknown;
  after?: unknown;
  reason?: string | null;
}

export class AuditLog {
  /** Denied calls, counted per caller and window instead of one event each (audit-denials.ts). */
  readonly denials: DenialCounter;

  constructor(
    private readonly store: Store,
    denialWindowMs?: number,
  ) {
    this.denials = new DenialCounter((ctx, entry) => this.record(ctx, entry), denialWindowMs);
  }

  /** Run `change` and append its audit event in one transaction; a client-caused failure is audited as `failed`. */
  async audited<T>(ctx: CallContext, action: string, resource: string, change: (tx: Tx) => Promise<AuditedChange<T>>): Promise<T> {
    try {
      return await this.store.db.transaction().execute(async (tx) => {
        const head = await this.lockHead(tx);
        const out = await change(tx);
        await this.append(tx, head, ctx, { action, resource: out.resource ?? resource, outcome: 'success', before: out.before, after: out.after });
        return out.result;
      });
    } catch (err) {
      const mapped = toStoreError(err);
      if (mapped.status < 500) await this.record(ctx, { action, resource, outcome: 'failed', reason: mapped.code });
      throw mapped;
    }
  }

  /** Append one event on its own (a denial, a failure, a bootstrap step). */
  async record(ctx: CallContext, entry: Entry): Promise<void> {
    try {
      await this.store.db.transaction().execute(async (tx) => {
        const head = await this.lockHead(tx);
        await this.append(tx, head, ctx, entry);
      });
    } catch (err) {
      throw toStoreError(err, 'could not write the audit event');
    }
  }

  async denied(ctx: CallContext, action: string, resource: string, reason: string): Promise<never> {
    await this.denials.count(ctx, action, resource, reason);
    throw new SluiceError('SLUICE_E_AUTH_FORBIDDEN', `role ${ctx.actor.role} may not ${action}`, { details: { action, role: ctx.actor.role } });
  }

  private async lockHead(tx: Tx): Promise<{ seq: number; hash: string }> {
    const q = tx.selectFrom('audit_chain_head').select(['seq', 'hash']).where('id', '=', 1);
    const head = await this.store.forUpdate(q).executeTakeFirstOrThrow();
    return { seq: Number(head.seq), hash: head.hash };
  }

  private async append(tx: Tx, head: { seq: number; hash: string }, ctx: CallContext, entry: Entry): Promise<void> {
    const row: Omit<AuditEventTable, 'hash'> = {
      seq: head.seq + 1,
      at: now(),
      actor_id: ctx.actor.id,
      actor_name: ctx.actor.name,
      role: ctx.actor.role,
      action: entry.action,
      resource: entry.resource,
      before_state: entry.before === undefined ? null : JSON.stringify(entry.before),
      after_state: entry.after === undefined ? null : JSON.stringify(entry.after),
      request_id: ctx.request.requestId,
      client_address: ctx.request.clientAddress,
      outcome: entry.outcome,
      reason: entry.reason ?? null,
      prev_hash: head.hash,
    };
    const hash = auditEventHash(row);
    await tx.insertInto('audit_events').values({ ...row, hash }).execute();
    await tx.updateTable('audit_chain_head').set({ seq: row.seq, hash }).where('id', '=', 1).execute();
  }

  /** Newest first. */
  async list(filter: AuditFilter, page: PageArgs): Promise<Connection<AuditEvent>> {
    const size = pageSize(page.first);
    const after = decodeNumberCursor('audit', page.after);
    let q = this.store.db.selectFrom('audit_events').selectAll();
    if (after !== undefined) q = q.where('seq', '<', after);
    if (filter.actorId) q = q.where('actor_id', '=', filter.actorId);
    if (filter.action) q = q.where('action', '=', filter.action);
    if (filter.resource) q = q.where('resource', '=', filter.resource);
    if (filter.outcome) q = q.where('outcome', '=', filter.outcome);
    if (filter.since) q = q.where('at', '>=', isoTime(filter.since, 'since'));
    if (filter.until) q = q.where('at', '<', isoTime(filter.until, 'until'));
    const rows = await q.orderBy('seq', 'desc').limit(size + 1).execute();
    return toConnection(rows, size, 'audit', (r) => Number(r.seq), toAuditEvent, page.after);
  }

  /** Every event in order (the CLI's JSON-lines export), read in pages so memory stays flat. */
  async *all(batch = 1000): AsyncGenerator<AuditEvent> {
    let last = 0;
    for (;;) {
      const rows = await this.store.db.selectFrom('audit_events').selectAll().where('seq', '>', last).orderBy('seq').limit(batch).execute();
      for (const r of rows) yield toAuditEvent(r);
      if (rows.length < batch) return;
      last = Number(rows.at(-1)!.seq);
    }
  }

  /** Verify the chain, and with `anchoring` the database against every signed checkpoint. */
  async verify(anchoring?: AuditAnchoring, batch = 1000): Promise<AuditVerification> {
    const verifier = new ChainVerifier();
    let last = 0;
    for (;;) {
      const rows = await this.store.db.selectFrom('audit_events').selectAll().where('seq', '>', last).orderBy('seq').limit(batch).execute();
      let ok = true;
      for (const r of rows) if (!(ok = verifier.feed(r))) break;
      if (!ok || rows.length < batch) break;
      last = Number(rows.at(-1)!.seq);
    }
    const head = await this.store.db.selectFrom('audit_chain_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
    verifier.finish(head);
    const anchored = anchoring === undefined ? undefined : await checkCheckpoints(this.store, anchoring.file, anchoring.publicKey);
    return {
      ok: verifier.firstBreak === undefined && (anchored?.firstBadCheckpoint ?? null) === null,
      checkedEvents: verifier.checked,
      firstBad: verifier.firstBreak ?? null,
      checkpoints: anchored?.checkpoints ?? null,
      firstBadCheckpoint: anchored?.firstBadCheckpoint ?? null,
    };
  }
}

function isoTime(value: string, argument: string): string {
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new SluiceError('SLUICE_E_VALIDATION', `${argument} is not an ISO-8601 time`, { details: { argument } });
  return new Date(t).toISOString();
}

function parseJson(text: string | null): unknown {
  return text === null ? null : (JSON.parse(text) as unknown);
}

function toAuditEvent(r: AuditEventTable): AuditEvent {
  return {
    seq: Number(r.seq),
    at: r.at,
    actorId: r.actor_id,
    actorName: r.actor_name,
    role: r.role,
    action: r.action,
    resource: r.resource,
    before: parseJson(r.before_state),
    after: parseJson(r.after_state),
    requestId: r.request_id,
    clientAddress: r.client_address,
    outcome: r.outcome as Outcome,
    reason: r.reason,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
