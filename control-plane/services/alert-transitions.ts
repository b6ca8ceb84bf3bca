// How alerts move between states at each evaluation (services/alerts.ts explains the states): for
// every rule, which (version, feature) pairs meet its condition on the fleet-wide figures, then the
// transitions that follow — open a pending alert, fire it after the rule's `for`, update its value,
// resolve it — with firing and resolved audited (system actor) and their webhook events put into
// the outbox in the same transaction.
import type { Store, Tx } from '../store/db.js';
import { isUniqueViolation } from '../store/db.js';
import type { AlertRuleTable, AlertTable } from '../store/tables.js';
import { systemContext } from './actor.js';
import { alertFingerprint, isSilenced, openAlerts, toAlert, type AlertRow, type AlertView } from './alert-rows.js';
import type { AuditLog } from './audit.js';
import { sliceErrorDisparity } from './explained-figures.js';
import type { VersionFigures } from './fleet-figures.js';
import { newId } from './ids.js';
import type { AlertMetric } from './lifecycle.js';
import type { TrafficService } from './traffic.js';
import type { AlertNotice, WebhookService } from './webhooks.js';

export interface EvaluationSummary {
  rules: number;
  pending: number;
  fired: number;
  resolved: number;
}

const SYSTEM = systemContext('alerts');

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
    case 'slice_error_disparity':
      return sliceErrorDisparity(f.slices, minCount);
    case 'drift_psi':
    case 'attribution_shift':
    case 'slice_error_rate':
      return null;
  }
}

/** Per-feature (or per-slice) figures of a rule whose `feature` picks one name or * for each. */
function namedFigures(f: VersionFigures, metric: AlertMetric, feature: string | null, minCount: number): { feature: string | null; value: number }[] {
  const pick = (name: string): boolean => feature === '*' || feature === name;
  switch (metric) {
    case 'drift_psi':
      return f.drift.filter((d) => pick(d.feature)).map((d) => ({ feature: d.feature, value: d.psi }));
    case 'attribution_shift': {
      const a = f.attribution;
      if (a === null || a.rows < minCount) return [];
      if (feature === null) return a.shift === null ? [] : [{ feature: null, value: a.shift }];
      return a.features.filter((x) => pick(x.feature)).map((x) => ({ feature: x.feature, value: x.shift }));
    }
    case 'slice_error_rate':
      return f.slices.filter((s) => s.errorRate !== null && s.labelled >= minCount && pick(s.slice)).map((s) => ({ feature: s.slice, value: s.errorRate! }));
    default:
      return [];
  }
}

interface Holding {
  version: number;
  feature: string | null;
  value: number;
}

export class AlertTransitions {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly traffic: TrafficService,
    private readonly webhooks: WebhookService,
  ) {}

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
    await this.#orphans(at);
    return summary;
  }

  /**
   * Open alerts whose rule is gone: deleteRule resolves a rule's alerts, but on PostgreSQL a pass
   * that read the rule just before can still open one. Resolve them (no notification: the rule that
   * named the targets is gone) so no alert stays open for ever.
   */
  async #orphans(at: Date): Promise<void> {
    const orphans = await this.store.db
      .selectFrom('alerts')
      .leftJoin('alert_rules', 'alert_rules.id', 'alerts.rule_id')
      .select(['alerts.id', 'alerts.state'])
      .where('alert_rules.id', 'is', null)
      .where('alerts.open_fingerprint', 'is not', null)
      .execute();
    if (orphans.length === 0) return;
    const atIso = at.toISOString();
    for (const o of orphans) {
      if (o.state === 'pending') {
        await this.store.db.deleteFrom('alerts').where('id', '=', o.id).where('state', '=', 'pending').execute();
        continue;
      }
      await this.audit.audited(SYSTEM, 'alert.resolve', `alert/${o.id}`, async (tx) => {
        await tx.updateTable('alerts').set({ state: 'resolved', open_fingerprint: null, resolved_at: atIso, updated_at: atIso }).where('id', '=', o.id).execute();
        return { result: undefined, after: { state: 'resolved', reason: 'its rule was deleted' } };
      });
    }
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
      if (metric === 'drift_psi' || metric === 'attribution_shift' || metric === 'slice_error_rate') {
        for (const d of namedFigures(f, metric, rule.feature, Number(rule.min_count))) {
          if (holds(d.value)) out.set(alertFingerprint(rule.id, rule.model, version, d.feature), { version, feature: d.feature, value: d.value });
        }
        continue;
      }
      const value = figureOf(f, metric, Number(rule.min_count));
      if (value !== null && holds(value)) out.set(alertFingerprint(rule.id, rule.model, version, null), { version, feature: null, value });
    }
    return out;
  }

  async #apply(rule: AlertRuleTable, holding: Map<string, Holding>, at: Date, summary: EvaluationSummary): Promise<void> {
    const open = new Map((await openAlerts(this.store.db, rule.id)).map((a) => [a.fingerprint, a]));
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
        await this.store.db.updateTable('alerts').set({ value: h.value, metric: rule.metric, threshold: Number(rule.threshold), severity: rule.severity, updated_at: atIso }).where('id', '=', alert.id).execute();
      }
    }
    for (const [fingerprint, alert] of open) {
      if (holding.has(fingerprint)) continue;
      if (alert.state === 'pending') {
        await this.store.db.deleteFrom('alerts').where('id', '=', alert.id).where('state', '=', 'pending').execute();
        continue;
      }
      await this.audit.audited(SYSTEM, 'alert.resolve', `alert/${alert.id}`, async (tx) => {
        const after = await this.close(tx, rule, alert, alert.value === null ? null : Number(alert.value), at);
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
  async close(tx: Tx, rule: AlertRuleTable, alert: AlertRow, value: number | null, at: Date): Promise<AlertView | null> {
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
}
