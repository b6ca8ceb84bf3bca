// Alert rules, the alerts they raise, and their evaluation over fleet-wide figures (services/
// fleet-figures.ts). For each rule, version (and feature, for drift) whose condition holds, one
// alert is open at a time — the `open_fingerprint` unique column makes that a constraint — and each
// evaluation updates its value: pending when the condition starts to hold, firing once it held for
// the rule's `for`, resolved when it stops (a pending alert that stops holding is dropped, as
// Prometheus does: it never notified anyone). Firing and resolved are audited with the system
// actor and put their webhook events into the outbox in the same transaction; a silence (of one
// alert or of a rule) holds back notifications while the states are still tracked.
import { createHash } from 'node:crypto';
import { SluiceError } from '../../lib/errors.js';
import type { Store, Tx } from '../store/db.js';
import { isUniqueViolation } from '../store/db.js';
import type { AlertRuleTable, AlertTable } from '../store/tables.js';
import { systemContext, type CallContext } from './actor.js';
import { parseRule, ruleAsInput, ruleInvalid, type AlertRuleInput, type AlertRulePatch, type ParsedRule } from './alert-rules.js';
import type { AuditLog } from './audit.js';
import type { VersionFigures } from './fleet-figures.js';
import { newId } from './ids.js';
import type { Alert, AlertFilter, AlertMetric, AlertSource, AlertState } from './lifecycle.js';
import { ALERT_STATES } from './lifecycle.js';
import { decodeCursor, pageSize, toConnection, type Connection, type PageArgs } from './pagination.js';
import type { TrafficService } from './traffic.js';
import type { AlertNotice, WebhookService } from './webhooks.js';

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

export interface AlertView extends Alert {
  fingerprint: string;
  silenceReason: string | null;
}

export interface SilenceInput {
  /** One alert by id … */
  alert?: string | null;
  /** … or every alert of a rule, by name (also the ones it raises later, until `until`). */
  rule?: string | null;
  until: string;
  reason: string;
}

export interface EvaluationSummary {
  rules: number;
  pending: number;
  fired: number;
  resolved: number;
}

type AlertRow = AlertTable & { rule_silenced_until: string | null; rule_silence_reason: string | null };

const SYSTEM = systemContext('alerts');
const MAX_SILENCE_MS = 30 * 86400_000;
const OPEN: AlertState[] = ['pending', 'firing'];

export function alertFingerprint(ruleId: string, model: string, version: number, feature: string | null): string {
  return createHash('sha256').update(JSON.stringify([ruleId, model, version, feature])).digest('hex').slice(0, 32);
}

function later(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return a > b ? a : b;
}

function toAlert(r: AlertRow): AlertView {
  const own = r.silenced_until;
  const silencedUntil = later(own, r.rule_silenced_until);
  return {
    id: r.id,
    fingerprint: r.fingerprint,
    ruleId: r.rule_id,
    ruleName: r.rule_name,
    model: r.model,
    version: Number(r.version),
    metric: r.metric as AlertMetric,
    feature: r.feature,
    severity: r.severity,
    state: r.state as AlertState,
    value: r.value === null ? null : Number(r.value),
    threshold: Number(r.threshold),
    activeSince: r.active_since,
    firedAt: r.fired_at,
    resolvedAt: r.resolved_at,
    silencedUntil,
    silenceReason: silencedUntil === null ? null : silencedUntil === own ? r.silence_reason : r.rule_silence_reason,
  };
}

/** The figure a rule looks at, or null when there is none or too few calls/feedback rows behind it. */
function figureOf(f: VersionFigures, metric: AlertMetric, minCount: number): number | null {
  switch (metric) {
    case 'error_rate':
      return f.calls >= minCount ? f.errorRate : null;
    case 'latency_p99_ms':
      return f.calls >= minCount ? f.p99Ms : null;
    case 'accuracy':
      return f.feedbackCount >= minCount ? f.accuracy : null;
    case 'mae':
      return f.feedbackCount >= minCount ? f.mae : null;
    case 'drift_psi':
      return null;
  }
}

interface Holding {
  version: number;
  feature: string | null;
  value: number;
}

export class AlertService implements AlertSource {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly traffic: TrafficService,
    private readonly webhooks: WebhookService,
  ) {}

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
      for (const open of await this.#open(tx, row.id)) await this.#close(tx, row, open, open.value === null ? null : Number(open.value), at);
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
    return (await this.#query(filter).orderBy('alerts.id', 'desc').limit(limit).execute()).map(toAlert);
  }

  async page(filter: AlertFilter, page: PageArgs): Promise<Connection<AlertView>> {
    if (filter.state !== undefined && !(ALERT_STATES as readonly string[]).includes(filter.state)) {
      throw new SluiceError('SLUICE_E_VALIDATION', `state must be one of ${ALERT_STATES.join(', ')}`, { details: { argument: 'state' } });
    }
    const size = pageSize(page.first);
    const after = decodeCursor('alerts', page.after);
    let q = this.#query(filter);
    if (after !== undefined) q = q.where('alerts.id', '<', after);
    const rows = await q.orderBy('alerts.id', 'desc').limit(size + 1).execute();
    return toConnection(rows, size, 'alerts', (r) => r.id, toAlert, page.after);
  }

  async get(id: string): Promise<AlertView | undefined> {
    const row = await this.#query({}).where('alerts.id', '=', id).executeTakeFirst();
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
        ids = (await this.#open(tx, rule.id)).map((a) => a.id);
      }
      const rows = ids.length === 0 ? [] : await this.#query({}, tx).where('alerts.id', 'in', ids).execute();
      return { result: rows.map(toAlert), after: { silencedUntil: until, reason } };
    });
  }

  /** Every firing alert (the /metrics gauge). */
  async firing(): Promise<AlertView[]> {
    return (await this.#query({ state: 'firing' }).orderBy('alerts.id').execute()).map(toAlert);
  }

  // ---- evaluation ----

  /** Evaluate every rule at `at` (the evaluator's clock; tests pass their own). */
  async evaluate(at: Date = new Date()): Promise<EvaluationSummary> {
    const summary: EvaluationSummary = { rules: 0, pending: 0, fired: 0, resolved: 0 };
    const figures = new Map<string, Promise<VersionFigures[]>>();
    for (const rule of await this.store.db.selectFrom('alert_rules').selectAll().orderBy('id').execute()) {
      summary.rules++;
      const from = new Date(at.getTime() - Number(rule.window_seconds) * 1000).toISOString();
      const key = `${rule.model}\u0000${from}`;
      if (!figures.has(key)) figures.set(key, this.traffic.fleetFigures(rule.model, from, at.toISOString()));
      const holding = await this.#holding(rule, await figures.get(key)!);
      await this.#apply(rule, holding, at, summary);
    }
    return summary;
  }

  /** Which (version, feature) pairs meet the rule's condition, by fingerprint. */
  async #holding(rule: AlertRuleTable, figures: VersionFigures[]): Promise<Map<string, Holding>> {
    let versions: number[];
    if (rule.versions === '*') versions = figures.map((f) => f.version);
    else if (/^\d+$/.test(rule.versions)) versions = [Number(rule.versions)];
    else {
      const alias = await this.store.db
        .selectFrom('aliases')
        .innerJoin('models', 'models.id', 'aliases.model_id')
        .innerJoin('model_versions', 'model_versions.id', 'aliases.version_id')
        .select('model_versions.number')
        .where('models.name', '=', rule.model)
        .where('aliases.name', '=', rule.versions)
        .executeTakeFirst();
      versions = alias ? [Number(alias.number)] : [];
    }
    const metric = rule.metric as AlertMetric;
    const threshold = Number(rule.threshold);
    const holds = (v: number) => (rule.comparison === '>' ? v > threshold : v < threshold);
    const out = new Map<string, Holding>();
    for (const version of versions) {
      const f = figures.find((x) => x.version === version);
      if (!f) continue;
      if (metric === 'drift_psi') {
        for (const d of f.drift) {
          if ((rule.feature === '*' || d.feature === rule.feature) && holds(d.psi)) out.set(alertFingerprint(rule.id, rule.model, version, d.feature), { version, feature: d.feature, value: d.psi });
        }
        continue;
      }
      const value = figureOf(f, metric, Number(rule.min_count));
      if (value !== null && holds(value)) out.set(alertFingerprint(rule.id, rule.model, version, null), { version, feature: null, value });
    }
    return out;
  }

  async #apply(rule: AlertRuleTable, holding: Map<string, Holding>, at: Date, summary: EvaluationSummary): Promise<void> {
    const open = new Map((await this.#open(this.store.db, rule.id)).map((a) => [a.fingerprint, a]));
    const atIso = at.toISOString();
    for (const [fingerprint, h] of holding) {
      let alert = open.get(fingerprint);
      if (!alert) {
        const row: AlertTable = {
          id: newId('alt'),
          fingerprint,
          open_fingerprint: fingerprint,
          rule_id: rule.id,
          rule_name: rule.name,
          model: rule.model,
          version: h.version,
          metric: rule.metric,
          feature: h.feature,
          severity: rule.severity,
          state: 'pending',
          value: h.value,
          threshold: Number(rule.threshold),
          active_since: atIso,
          fired_at: null,
          resolved_at: null,
          notified: 0,
          silenced_until: null,
          silence_reason: null,
          updated_at: atIso,
        };
        try {
          await this.store.db.insertInto('alerts').values(row).execute();
        } catch (err) {
          // Another evaluation opened it first (a leader change mid-pass): the next pass updates that one.
          if (isUniqueViolation(err)) continue;
          throw err;
        }
        summary.pending++;
        alert = { ...row, rule_silenced_until: rule.silenced_until, rule_silence_reason: rule.silence_reason };
      }
      const silenced = isSilenced(alert, rule, atIso);
      if (alert.state === 'pending' && at.getTime() - Date.parse(alert.active_since) >= Number(rule.for_seconds) * 1000) {
        await this.#fire(rule, alert, h.value, at, silenced);
        summary.fired++;
      } else if (alert.state === 'firing' && !alert.notified && !silenced) {
        // Fired while silenced and the silence is over: tell the targets now.
        await this.store.db.transaction().execute(async (tx) => {
          await tx.updateTable('alerts').set({ value: h.value, notified: 1, updated_at: atIso }).where('id', '=', alert.id).execute();
          await this.webhooks.enqueue(tx, JSON.parse(rule.webhooks) as string[], this.#notice(rule, { ...alert, value: h.value }), 'firing', atIso);
        });
      } else {
        await this.store.db.updateTable('alerts').set({ value: h.value, threshold: Number(rule.threshold), severity: rule.severity, updated_at: atIso }).where('id', '=', alert.id).execute();
      }
    }
    for (const [fingerprint, alert] of open) {
      if (holding.has(fingerprint)) continue;
      if (alert.state === 'pending') {
        await this.store.db.deleteFrom('alerts').where('id', '=', alert.id).where('state', '=', 'pending').execute();
        continue;
      }
      await this.audit.audited(SYSTEM, 'alert.resolve', `alert/${alert.id}`, async (tx) => {
        const after = await this.#close(tx, rule, alert, alert.value === null ? null : Number(alert.value), at);
        return { result: undefined, after };
      });
      summary.resolved++;
    }
  }

  async #fire(rule: AlertRuleTable, alert: AlertRow, value: number, at: Date, silenced: boolean): Promise<void> {
    const atIso = at.toISOString();
    await this.audit.audited(SYSTEM, 'alert.fire', `alert/${alert.id}`, async (tx) => {
      const fired: AlertRow = { ...alert, state: 'firing', value, fired_at: atIso, notified: silenced ? 0 : 1, threshold: Number(rule.threshold), severity: rule.severity, updated_at: atIso };
      await tx
        .updateTable('alerts')
        .set({ state: 'firing', value, fired_at: atIso, notified: fired.notified, threshold: fired.threshold, severity: fired.severity, updated_at: atIso })
        .where('id', '=', alert.id)
        .execute();
      if (!silenced) await this.webhooks.enqueue(tx, JSON.parse(rule.webhooks) as string[], this.#notice(rule, fired), 'firing', atIso);
      return { result: undefined, after: toAlert(fired) };
    });
  }

  /** Resolve an open alert inside `tx` (pending ones are dropped); a notified, unsilenced one tells its targets. */
  async #close(tx: Tx, rule: AlertRuleTable, alert: AlertRow, value: number | null, at: Date): Promise<AlertView | null> {
    if (alert.state === 'pending') {
      await tx.deleteFrom('alerts').where('id', '=', alert.id).execute();
      return null;
    }
    const atIso = at.toISOString();
    const resolved: AlertRow = { ...alert, state: 'resolved', open_fingerprint: null, value, resolved_at: atIso, updated_at: atIso };
    await tx.updateTable('alerts').set({ state: 'resolved', open_fingerprint: null, value, resolved_at: atIso, updated_at: atIso }).where('id', '=', alert.id).execute();
    if (alert.notified && !isSilenced(alert, rule, atIso)) await this.webhooks.enqueue(tx, JSON.parse(rule.webhooks) as string[], this.#notice(rule, resolved), 'resolved', atIso);
    return toAlert(resolved);
  }

  #notice(rule: AlertRuleTable, alert: AlertRow): AlertNotice {
    return { ...toAlert(alert), labels: JSON.parse(rule.labels) as Record<string, string>, comparison: rule.comparison };
  }

  // ---- rows ----

  #query(filter: AlertFilter, db: Tx | Store['db'] = this.store.db) {
    let q = db
      .selectFrom('alerts')
      .leftJoin('alert_rules', 'alert_rules.id', 'alerts.rule_id')
      .selectAll('alerts')
      .select(['alert_rules.silenced_until as rule_silenced_until', 'alert_rules.silence_reason as rule_silence_reason']);
    if (filter.model) q = q.where('alerts.model', '=', filter.model);
    if (filter.state) q = q.where('alerts.state', '=', filter.state);
    return q;
  }

  #open(db: Tx | Store['db'], ruleId: string): Promise<AlertRow[]> {
    return this.#query({}, db).where('alerts.rule_id', '=', ruleId).where('alerts.state', 'in', OPEN).execute();
  }

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

function isSilenced(alert: AlertRow, rule: AlertRuleTable, atIso: string): boolean {
  return (alert.silenced_until !== null && alert.silenced_until > atIso) || (rule.silenced_until !== null && rule.silenced_until > atIso);
}
