// Alert rules, the alerts they raise, and their evaluation over fleet-wide figures (services/
// fleet-figures.ts). For each rule, version (and feature, for drift) whose condition holds, one
// alert is open at a time — the `open_fingerprint` unique column makes that a constraint — and each
// evaluation updates its value: pending when the condition starts to hold, firing once it held for
// the rule's `for`, resolved when it stops (a pending alert that stops holding is dropped, as
// Prometheus does: it never notified anyone). Firing and resolved are audited with the system
// actor and put their webhook events into the outbox in the same transaction (alert-transitions.ts);
// a silence (of one alert or of a rule) holds back notifications while the states are still tracked.
import { SluiceError } from '../../lib/errors.js';
import type { Store, Tx } from '../store/db.js';
import type { AlertRuleTable } from '../store/tables.js';
import type { CallContext } from './actor.js';
import { alertQuery, openAlerts, toAlert, type AlertView } from './alert-rows.js';
import { parseRule, ruleAsInput, ruleInvalid, type AlertRuleInput, type AlertRulePatch, type ParsedRule } from './alert-rules.js';
import { AlertTransitions, type EvaluationSummary } from './alert-transitions.js';
import type { AuditLog } from './audit.js';
import { newId } from './ids.js';
import type { Alert, AlertFilter, AlertMetric, AlertSource } from './lifecycle.js';
import { ALERT_STATES } from './lifecycle.js';
import { decodeCursor, pageSize, toConnection, type Connection, type PageArgs } from './pagination.js';
import type { TrafficService } from './traffic.js';
import type { WebhookService } from './webhooks.js';

export type { AlertView } from './alert-rows.js';
export type { EvaluationSummary } from './alert-transitions.js';

export interface AlertRule {
  id: string;
  name: string;
  model: string;
  versions: string;
  metric: AlertMetric;
  feature: string | null;
  comparison: string;
  threshold: number;
  minCount: number | null;
  windowSeconds: number;
  forSeconds: number;
  severity: string;
  webhooks: string[];
  labels: Record<string, string>;
  silencedUntil: string | null;
  silenceReason: string | null;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
}

export interface SilenceInput {
  /** One alert by id … */
  alert?: string | null;
  /** … or every alert of a rule, by name (also the ones it raises later, until `until`). */
  rule?: string | null;
  until: string;
  reason: string;
}

const MAX_SILENCE_MS = 30 * 86400_000;

export class AlertService implements AlertSource {
  readonly #transitions: AlertTransitions;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    traffic: TrafficService,
    private readonly webhooks: WebhookService,
  ) {
    this.#transitions = new AlertTransitions(store, audit, traffic, webhooks);
  }

  // ---- rules ----

  async createRule(ctx: CallContext, input: AlertRuleInput): Promise<AlertRule> {
    return this.audit.audited(ctx, 'alert-rule.create', `alert-rule/${String(input.name)}`, async (tx) => {
      const parsed = parseRule(input);
      if (await tx.selectFrom('alert_rules').select('id').where('name', '=', parsed.name).executeTakeFirst()) throw ruleInvalid('name', `a rule named ${parsed.name} exists`);
      const at = new Date().toISOString();
      const row: AlertRuleTable = { id: newId('alr'), ...(await this.#stored(tx, parsed)), silenced_until: null, silence_reason: null, created_at: at, created_by: ctx.actor.id, updated_at: at };
      await tx.insertInto('alert_rules').values(row).execute();
      const rule = this.#toRule(row, parsed.webhookNames);
      return { result: rule, after: rule };
    });
  }

  async updateRule(ctx: CallContext, name: string, patch: AlertRulePatch): Promise<AlertRule> {
    return this.audit.audited(ctx, 'alert-rule.update', `alert-rule/${name}`, async (tx) => {
      const row = await this.#ruleRow(tx, name);
      const before = this.#toRule(row, await this.webhooks.namesOf(JSON.parse(row.webhooks) as string[], tx));
      const merged: AlertRuleInput = { ...ruleAsInput(row, before.webhooks), ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)), name };
      // Changing the metric drops what only the old metric took, unless the patch gives it again.
      if (patch.metric !== undefined && patch.metric !== row.metric) {
        if (patch.feature === undefined) merged.feature = null;
        if (patch.minCount === undefined) merged.minCount = null;
      }
      const parsed = parseRule(merged);
      const next: AlertRuleTable = { ...row, ...(await this.#stored(tx, parsed)), updated_at: new Date().toISOString() };
      await tx.updateTable('alert_rules').set(next).where('id', '=', row.id).execute();
      const rule = this.#toRule(next, parsed.webhookNames);
      return { result: rule, before, after: rule };
    });
  }

  /** Delete a rule; its open alerts resolve in the same transaction (firing ones notify). */
  async deleteRule(ctx: CallContext, name: string): Promise<boolean> {
    return this.audit.audited(ctx, 'alert-rule.delete', `alert-rule/${name}`, async (tx) => {
      const row = await this.#ruleRow(tx, name);
      const at = new Date();
      for (const open of await openAlerts(tx, row.id)) await this.#transitions.close(tx, row, open, open.value === null ? null : Number(open.value), at);
      await tx.deleteFrom('alert_rules').where('id', '=', row.id).execute();
      return { result: true, before: this.#toRule(row, await this.webhooks.namesOf(JSON.parse(row.webhooks) as string[], tx)) };
    });
  }

  async rules(model?: string | null): Promise<AlertRule[]> {
    let q = this.store.db.selectFrom('alert_rules').selectAll();
    if (model) q = q.where('model', '=', model);
    const rows = await q.orderBy('name').execute();
    return Promise.all(rows.map(async (r) => this.#toRule(r, await this.webhooks.namesOf(JSON.parse(r.webhooks) as string[]))));
  }

  // ---- alerts ----

  /** AlertSource (services/lifecycle.ts): newest first, at most `limit`. */
  async list(filter: AlertFilter, limit = 100): Promise<Alert[]> {
    return (await alertQuery(this.store.db, filter).orderBy('alerts.id', 'desc').limit(limit).execute()).map(toAlert);
  }

  async page(filter: AlertFilter, page: PageArgs): Promise<Connection<AlertView>> {
    if (filter.state !== undefined && !(ALERT_STATES as readonly string[]).includes(filter.state)) {
      throw new SluiceError('SLUICE_E_VALIDATION', `state must be one of ${ALERT_STATES.join(', ')}`, { details: { argument: 'state' } });
    }
    const size = pageSize(page.first);
    const after = decodeCursor('alerts', page.after);
    let q = alertQuery(this.store.db, filter);
    if (after !== undefined) q = q.where('alerts.id', '<', after);
    const rows = await q.orderBy('alerts.id', 'desc').limit(size + 1).execute();
    return toConnection(rows, size, 'alerts', (r) => r.id, toAlert, page.after);
  }

  async get(id: string): Promise<AlertView | undefined> {
    const row = await alertQuery(this.store.db, {}).where('alerts.id', '=', id).executeTakeFirst();
    return row ? toAlert(row) : undefined;
  }

  /** Hold back notifications of one alert or of a rule's alerts until `until`. */
  async silence(ctx: CallContext, input: SilenceInput): Promise<AlertView[]> {
    const until = Date.parse(input.until);
    if (Number.isNaN(until) || until <= Date.now() || until > Date.now() + MAX_SILENCE_MS) {
      throw new SluiceError('SLUICE_E_VALIDATION', 'until must be a time in the next 30 days', { details: { field: 'until' } });
    }
    if (typeof input.reason !== 'string' || input.reason.trim().length === 0 || input.reason.length > 500) {
      throw new SluiceError('SLUICE_E_VALIDATION', 'a silence needs a reason (at most 500 characters)', { details: { field: 'reason' } });
    }
    return this.#setSilence(ctx, 'silence', input, new Date(until).toISOString(), input.reason);
  }

  async unsilence(ctx: CallContext, input: Pick<SilenceInput, 'alert' | 'rule'>): Promise<AlertView[]> {
    return this.#setSilence(ctx, 'unsilence', input, null, null);
  }

  async #setSilence(ctx: CallContext, verb: string, input: Pick<SilenceInput, 'alert' | 'rule'>, until: string | null, reason: string | null): Promise<AlertView[]> {
    if ((input.alert ? 1 : 0) + (input.rule ? 1 : 0) !== 1) {
      throw new SluiceError('SLUICE_E_VALIDATION', `${verb} takes one of alert (an id) or rule (a name)`, { details: { field: 'alert' } });
    }
    const resource = input.alert ? `alert/${input.alert}` : `alert-rule/${input.rule}`;
    return this.audit.audited(ctx, input.alert ? `alert.${verb}` : `alert-rule.${verb}`, resource, async (tx) => {
      let ids: string[];
      if (input.alert) {
        const r = await tx.updateTable('alerts').set({ silenced_until: until, silence_reason: reason }).where('id', '=', input.alert).executeTakeFirst();
        if (Number(r.numUpdatedRows) === 0) throw new SluiceError('SLUICE_E_ALERT_NOT_FOUND', `no alert ${input.alert}`, { details: { alert: input.alert } });
        ids = [input.alert];
      } else {
        const rule = await this.#ruleRow(tx, input.rule!);
        await tx.updateTable('alert_rules').set({ silenced_until: until, silence_reason: reason }).where('id', '=', rule.id).execute();
        ids = (await openAlerts(tx, rule.id)).map((a) => a.id);
      }
      const rows = ids.length === 0 ? [] : await alertQuery(tx, {}).where('alerts.id', 'in', ids).execute();
      return { result: rows.map(toAlert), after: { silencedUntil: until, reason } };
    });
  }

  /** Every firing alert (the /metrics gauge). */
  async firing(): Promise<AlertView[]> {
    return (await alertQuery(this.store.db, { state: 'firing' }).orderBy('alerts.id').execute()).map(toAlert);
  }

  // ---- evaluation ----

  async evaluate(at: Date = new Date()): Promise<EvaluationSummary> {
    return this.#transitions.evaluate(at);
  }

  // ---- rows ----

  async #ruleRow(tx: Tx, name: string): Promise<AlertRuleTable> {
    const row = await tx.selectFrom('alert_rules').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row) throw new SluiceError('SLUICE_E_ALERT_NOT_FOUND', `no alert rule ${name}`, { details: { rule: name } });
    return row;
  }

  async #stored(tx: Tx, parsed: ParsedRule): Promise<Omit<AlertRuleTable, 'id' | 'silenced_until' | 'silence_reason' | 'created_at' | 'created_by' | 'updated_at'>> {
    if (!(await tx.selectFrom('models').select('id').where('name', '=', parsed.model).executeTakeFirst())) throw ruleInvalid('model', `no model ${parsed.model}`);
    const { webhookNames, ...values } = parsed;
    return { ...values, webhooks: JSON.stringify(await this.webhooks.idsOf(tx, webhookNames)) };
  }

  #toRule(r: AlertRuleTable, webhooks: string[]): AlertRule {
    return {
      id: r.id,
      name: r.name,
      model: r.model,
      versions: r.versions,
      metric: r.metric as AlertMetric,
      feature: r.feature,
      comparison: r.comparison,
      threshold: Number(r.threshold),
      minCount: Number(r.min_count) === 0 ? null : Number(r.min_count),
      windowSeconds: Number(r.window_seconds),
      forSeconds: Number(r.for_seconds),
      severity: r.severity,
      webhooks,
      labels: JSON.parse(r.labels) as Record<string, string>,
      silencedUntil: r.silenced_until,
      silenceReason: r.silence_reason,
      createdAt: r.created_at,
      createdBy: r.created_by,
      updatedAt: r.updated_at,
    };
  }
}
