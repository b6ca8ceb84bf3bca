// Webhook targets of alert notifications and their outbox. A firing or resolved event becomes one
// outbox row per target in the same transaction as the alert's transition, with its body built
// then (so what is sent is what happened, whatever changes later). The leader delivers due rows
// with Node's fetch and a timeout; a failure (non-2xx, timeout, refused) is retried with
// exponential backoff up to `maxAttempts`, and each row shows its state, attempts and last error.
// Because the outbox is in the database, a restarted control plane resumes where it stopped.
import { createHmac } from 'node:crypto';
import { SluiceError } from '../../lib/errors.js';
import type { Store, Tx } from '../store/db.js';
import { isUniqueViolation } from '../store/db.js';
import type { WebhookDeliveryTable, WebhookTable } from '../store/tables.js';
import type { CallContext } from './actor.js';
import type { AuditLog } from './audit.js';
import { newId } from './ids.js';
import type { Alert } from './lifecycle.js';

export const WEBHOOK_KINDS = ['generic', 'slack', 'pagerduty'] as const;
export type WebhookKind = (typeof WEBHOOK_KINDS)[number];
export type AlertEvent = 'firing' | 'resolved';

export interface Webhook {
  id: string;
  name: string;
  url: string;
  kind: WebhookKind;
  /** Whether deliveries carry an X-Sluice-Signature (the secret itself is never returned). */
  signed: boolean;
  createdAt: string;
  createdBy: string;
}

export interface WebhookInput {
  name: string;
  url: string;
  kind?: string | null;
  secret?: string | null;
  routingKey?: string | null;
}

export interface WebhookDelivery {
  id: string;
  webhook: string;
  alertId: string;
  event: AlertEvent;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: string;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

export interface DeliveryOptions {
  /** Attempts before a delivery is marked failed (default 8). */
  maxAttempts?: number;
  /** Wait before the second attempt; doubled at each further one (default 1000 ms). */
  backoffMs?: number;
  /** Longest wait between attempts (default 5 min). */
  maxBackoffMs?: number;
  /** Per-request timeout (default 5000 ms). */
  timeoutMs?: number;
}

export type DeliveryOutcome = 'delivered' | 'retry' | 'failed';

/** An alert as a notification describes it, with what the rule adds. */
export interface AlertNotice extends Alert {
  fingerprint: string;
  labels: Record<string, string>;
  comparison: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_URL = 2048;
const MAX_SECRET = 256;
const DUE_BATCH = 50;
/** Targets tried at once: a dead one (timing out) does not hold up the others for long. */
const CONCURRENCY = 8;
const PD_SEVERITY: Record<string, string> = { info: 'info', warning: 'warning', critical: 'critical' };

function invalid(field: string, message: string): SluiceError {
  return new SluiceError('SLUICE_E_WEBHOOK_INVALID', `${field}: ${message}`, { details: { field } });
}

export function parseWebhook(input: WebhookInput): Omit<WebhookTable, 'id' | 'created_at' | 'created_by'> {
  if (typeof input.name !== 'string' || !NAME.test(input.name)) throw invalid('name', 'must be 1-64 letters, digits, ".", "_" or "-"');
  let url: URL;
  try {
    url = new URL(input.url);
  } catch {
    throw invalid('url', 'must be an absolute http:// or https:// URL');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || input.url.length > MAX_URL || url.username !== '' || url.password !== '') {
    throw invalid('url', `must be an http:// or https:// URL of at most ${MAX_URL} characters, without credentials`);
  }
  const kind = (input.kind ?? 'generic').toLowerCase();
  if (!(WEBHOOK_KINDS as readonly string[]).includes(kind)) throw invalid('kind', `must be one of ${WEBHOOK_KINDS.join(', ')}`);
  const secret = input.secret ?? null;
  if (secret !== null && (secret.length < 16 || secret.length > MAX_SECRET)) throw invalid('secret', `must be 16 to ${MAX_SECRET} characters`);
  const routingKey = input.routingKey ?? null;
  if (kind === 'pagerduty' && (routingKey === null || !/^[A-Za-z0-9]{8,64}$/.test(routingKey))) throw invalid('routingKey', 'a pagerduty webhook needs its Events v2 routing key (8-64 letters and digits)');
  if (kind !== 'pagerduty' && routingKey !== null) throw invalid('routingKey', 'only pagerduty webhooks take a routing key');
  return { name: input.name, url: url.toString(), kind, secret, routing_key: routingKey };
}

function summary(a: AlertNotice, event: AlertEvent): string {
  const subject = `${a.model} v${a.version} ${a.metric}${a.feature ? `[${a.feature}]` : ''}`;
  const value = a.value === null ? 'n/a' : String(Number(a.value.toPrecision(4)));
  return event === 'firing' ? `${a.ruleName}: ${subject} = ${value} ${a.comparison} ${a.threshold}` : `${a.ruleName}: ${subject} resolved (last ${value})`;
}

/** The body one kind of target gets for one event (docs/alerts.md shows each). */
export function notificationBody(kind: WebhookKind, routingKey: string | null, a: AlertNotice, event: AlertEvent): unknown {
  const alert = {
    id: a.id,
    fingerprint: a.fingerprint,
    rule: a.ruleName,
    ruleId: a.ruleId,
    model: a.model,
    version: a.version,
    metric: a.metric,
    feature: a.feature,
    severity: a.severity,
    state: a.state,
    value: a.value,
    comparison: a.comparison,
    threshold: a.threshold,
    activeSince: a.activeSince,
    firedAt: a.firedAt,
    resolvedAt: a.resolvedAt,
    labels: a.labels,
  };
  const text = `[${event.toUpperCase()}] ${summary(a, event)}`;
  if (kind === 'slack') {
    return {
      text,
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: `*${event === 'firing' ? 'FIRING' : 'RESOLVED'}* (${a.severity}) ${summary(a, event)}` } },
        { type: 'context', elements: [{ type: 'mrkdwn', text: `alert ${a.id} · since ${a.activeSince} · fingerprint ${a.fingerprint}` }] },
      ],
    };
  }
  if (kind === 'pagerduty') {
    return {
      routing_key: routingKey,
      event_action: event === 'firing' ? 'trigger' : 'resolve',
      dedup_key: a.fingerprint,
      payload: { summary: summary(a, event), severity: PD_SEVERITY[a.severity] ?? 'warning', source: `sluice/${a.model}/v${a.version}`, component: a.model, class: a.metric, custom_details: alert },
    };
  }
  return { status: event, alert };
}

function toWebhook(r: WebhookTable): Webhook {
  return { id: r.id, name: r.name, url: r.url, kind: r.kind as WebhookKind, signed: r.secret !== null, createdAt: r.created_at, createdBy: r.created_by };
}

/** A Slack or PagerDuty URL is itself a credential: the audit log keeps only its origin. */
function forAudit(w: Webhook): Webhook {
  return { ...w, url: `${new URL(w.url).origin}/…` };
}

function toDelivery(r: WebhookDeliveryTable & { name: string }): WebhookDelivery {
  return {
    id: r.id,
    webhook: r.name,
    alertId: r.alert_id,
    event: r.event as AlertEvent,
    state: r.state as WebhookDelivery['state'],
    attempts: Number(r.attempts),
    nextAttemptAt: r.next_attempt_at,
    lastStatus: r.last_status === null ? null : Number(r.last_status),
    lastError: r.last_error,
    createdAt: r.created_at,
    deliveredAt: r.delivered_at,
  };
}

interface DueDelivery {
  id: string;
  webhook_id: string;
  alert_id: string;
  created_at: string;
  body: string;
  event: string;
  attempts: number;
  url: string;
  secret: string | null;
}

export class WebhookService {
  readonly #maxAttempts: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #timeoutMs: number;
  /** Told of each delivery attempt's outcome (the /metrics counter). */
  onAttempt: (outcome: DeliveryOutcome) => void = () => undefined;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    options: DeliveryOptions = {},
  ) {
    this.#maxAttempts = options.maxAttempts ?? 8;
    this.#backoffMs = options.backoffMs ?? 1000;
    this.#maxBackoffMs = options.maxBackoffMs ?? 300_000;
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  async create(ctx: CallContext, input: WebhookInput): Promise<Webhook> {
    return this.audited(ctx, 'webhook.create', `webhook/${String(input.name)}`, async (tx) => {
      const row: WebhookTable = { id: newId('whk'), ...parseWebhook(input), created_at: new Date().toISOString(), created_by: ctx.actor.id };
      if (await tx.selectFrom('webhooks').select('id').where('name', '=', row.name).executeTakeFirst()) throw invalid('name', `a webhook named ${row.name} exists`);
      await tx.insertInto('webhooks').values(row).execute();
      const webhook = toWebhook(row);
      return { result: webhook, after: forAudit(webhook) };
    });
  }

  /** Delete a webhook no rule names, with its deliveries (undelivered ones are dropped). */
  async delete(ctx: CallContext, name: string): Promise<boolean> {
    return this.audit.audited(ctx, 'webhook.delete', `webhook/${name}`, async (tx) => {
      const row = await tx.selectFrom('webhooks').selectAll().where('name', '=', name).executeTakeFirst();
      if (!row) throw new SluiceError('SLUICE_E_ALERT_NOT_FOUND', `no webhook ${name}`, { details: { webhook: name } });
      const rules = await tx.selectFrom('alert_rules').select(['name', 'webhooks']).execute();
      const users = rules.filter((r) => (JSON.parse(r.webhooks) as string[]).includes(row.id)).map((r) => r.name);
      if (users.length > 0) throw invalid('name', `rules ${users.join(', ')} still send to ${name}; take it out of them first`);
      await tx.deleteFrom('webhook_deliveries').where('webhook_id', '=', row.id).execute();
      await tx.deleteFrom('webhooks').where('id', '=', row.id).execute();
      return { result: true, before: forAudit(toWebhook(row)) };
    });
  }

  async list(): Promise<Webhook[]> {
    return (await this.store.db.selectFrom('webhooks').selectAll().orderBy('name').execute()).map(toWebhook);
  }

  /** Webhook ids for names; an unknown name is an invalid rule. */
  async idsOf(db: Tx, names: readonly string[]): Promise<string[]> {
    if (names.length === 0) return [];
    const rows = await db.selectFrom('webhooks').select(['id', 'name']).where('name', 'in', names).execute();
    return names.map((n) => {
      const row = rows.find((r) => r.name === n);
      if (!row) throw new SluiceError('SLUICE_E_ALERT_RULE_INVALID', `webhooks: no webhook ${n}`, { details: { field: 'webhooks', webhook: n } });
      return row.id;
    });
  }

  /** Webhook names for ids; `db` is the caller's transaction when it has one (SQLite has one connection). */
  async namesOf(ids: readonly string[], db: Tx | Store['db'] = this.store.db): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await db.selectFrom('webhooks').select(['id', 'name']).where('id', 'in', ids).execute();
    return ids.flatMap((id) => rows.find((r) => r.id === id)?.name ?? []);
  }

  /** Deliveries newest first, of one webhook or of all, of one alert or of all. */
  async deliveries(filter: { webhook?: string | null | undefined; alertId?: string | null | undefined }, limit = 100): Promise<WebhookDelivery[]> {
    let q = this.store.db.selectFrom('webhook_deliveries').innerJoin('webhooks', 'webhooks.id', 'webhook_deliveries.webhook_id').selectAll('webhook_deliveries').select('webhooks.name');
    if (filter.webhook) q = q.where('webhooks.name', '=', filter.webhook);
    if (filter.alertId) q = q.where('webhook_deliveries.alert_id', '=', filter.alertId);
    return (await q.orderBy('webhook_deliveries.id', 'desc').limit(limit).execute()).map(toDelivery);
  }

  /** Put one event per target into the outbox, inside the caller's transaction. */
  async enqueue(tx: Tx, webhookIds: readonly string[], alert: AlertNotice, event: AlertEvent, at: string): Promise<number> {
    if (webhookIds.length === 0) return 0;
    const targets = await tx.selectFrom('webhooks').select(['id', 'kind', 'routing_key']).where('id', 'in', webhookIds).execute();
    if (targets.length === 0) return 0;
    await tx
      .insertInto('webhook_deliveries')
      .values(
        targets.map((w) => ({
          id: newId('whd'),
          webhook_id: w.id,
          alert_id: alert.id,
          event,
          body: JSON.stringify(notificationBody(w.kind as WebhookKind, w.routing_key, alert, event)),
          state: 'pending',
          attempts: 0,
          next_attempt_at: at,
          last_status: null,
          last_error: null,
          created_at: at,
          delivered_at: null,
        })),
      )
      .execute();
    return targets.length;
  }

  /** Try every delivery due at `at` once; returns how many were tried. */
  async deliverDue(at: Date = new Date()): Promise<number> {
    const due: DueDelivery[] = await this.store.db
      .selectFrom('webhook_deliveries')
      .innerJoin('webhooks', 'webhooks.id', 'webhook_deliveries.webhook_id')
      .select(['webhook_deliveries.id', 'webhook_deliveries.webhook_id', 'webhook_deliveries.alert_id', 'webhook_deliveries.created_at', 'webhook_deliveries.body', 'webhook_deliveries.event', 'webhook_deliveries.attempts', 'webhooks.url', 'webhooks.secret'])
      .where('webhook_deliveries.state', '=', 'pending')
      .where('webhook_deliveries.next_attempt_at', '<=', at.toISOString())
      .orderBy('webhook_deliveries.created_at')
      .orderBy('webhook_deliveries.id')
      .limit(DUE_BATCH)
      .execute();
    // Targets are tried in parallel, each alert's events to one target one after the other (in order).
    const groups = new Map<string, typeof due>();
    for (const d of due) {
      const key = `${d.webhook_id} ${d.alert_id}`;
      groups.set(key, [...(groups.get(key) ?? []), d]);
    }
    const queue = [...groups.values()];
    let tried = 0;
    const worker = async () => {
      for (let group = queue.shift(); group; group = queue.shift()) {
        for (const d of group) if (await this.#attempt(d, at)) tried++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));
    return tried;
  }

  /** One attempt at one due event; false when an earlier event of its alert to the same target is still pending. */
  async #attempt(d: DueDelivery, at: Date): Promise<boolean> {
    // A target hears of one alert in order: a resolved event waits while its firing event is still being retried.
    const earlier = await this.store.db
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('webhook_id', '=', d.webhook_id)
      .where('alert_id', '=', d.alert_id)
      .where('state', '=', 'pending')
      .where('created_at', '<', d.created_at)
      .executeTakeFirst();
    if (earlier) return false;
    const { status, error } = await this.#post(d.url, d.id, d.event, d.body, d.secret, at);
    const attempts = Number(d.attempts) + 1;
    const ok = status !== null && status >= 200 && status < 300;
    const outcome: DeliveryOutcome = ok ? 'delivered' : attempts >= this.#maxAttempts ? 'failed' : 'retry';
    const wait = Math.min(this.#backoffMs * 2 ** (attempts - 1), this.#maxBackoffMs);
    await this.store.db
      .updateTable('webhook_deliveries')
      .set({
        state: outcome === 'retry' ? 'pending' : outcome,
        attempts,
        last_status: status,
        last_error: ok ? null : (error ?? `HTTP ${status}`),
        next_attempt_at: new Date(at.getTime() + (outcome === 'retry' ? wait : 0)).toISOString(),
        delivered_at: ok ? at.toISOString() : null,
      })
      .where('id', '=', d.id)
      .execute();
    this.onAttempt(outcome);
    return true;
  }

  async #post(url: string, id: string, event: string, body: string, secret: string | null, at: Date): Promise<{ status: number | null; error: string | null }> {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'sluice-alerts', 'x-sluice-delivery': id, 'x-sluice-event': event };
    if (secret !== null) {
      const timestamp = String(Math.floor(at.getTime() / 1000));
      headers['x-sluice-timestamp'] = timestamp;
      headers['x-sluice-signature'] = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
    }
    try {
      const res = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(this.#timeoutMs) });
      await res.body?.cancel();
      return { status: res.status, error: null };
    } catch (err) {
      const e = err as { name?: string; cause?: { code?: string } };
      return { status: null, error: e.name === 'TimeoutError' ? `no answer in ${this.#timeoutMs} ms` : `could not connect (${e.cause?.code ?? e.name ?? 'error'})` };
    }
  }

  private async audited<T>(ctx: CallContext, action: string, resource: string, change: (tx: Tx) => Promise<{ result: T; after?: unknown; before?: unknown }>): Promise<T> {
    try {
      return await this.audit.audited(ctx, action, resource, change);
    } catch (err) {
      if (isUniqueViolation((err as { cause?: unknown }).cause)) throw invalid('name', `a webhook named ${resource.slice('webhook/'.length)} exists`);
      throw err;
    }
  }
}
