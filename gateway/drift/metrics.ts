// Prometheus metrics of drift, registered on the gateway's registry. One gauge per statistic with
// labels {model, version, feature}; feature names come from the reference profile (bounded), never
// from requests. A statistic that does not apply to a feature (KS for a categorical one) or has no
// data yet is absent rather than NaN.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ScoreField } from './layout.js';

type FeatureLabels = 'model' | 'version' | 'feature';

/** Statistic -> metric name; the statistics the monitor exports per feature. */
export const DRIFT_GAUGES: Partial<Record<ScoreField, { name: string; help: string }>> = {
  psi: { name: 'sluice_drift_psi', help: 'Population stability index of a feature against its reference profile' },
  js_distance: { name: 'sluice_drift_js_distance', help: 'Jensen-Shannon distance (base 2) of a feature against its reference' },
  ks: { name: 'sluice_drift_ks_statistic', help: 'Kolmogorov-Smirnov statistic of a numeric feature against its reference grid' },
  ks_pvalue: { name: 'sluice_drift_ks_pvalue', help: 'Asymptotic KS p-value of a numeric feature' },
  wasserstein: { name: 'sluice_drift_wasserstein', help: 'Wasserstein-1 distance of a numeric feature from its reference (feature units)' },
  chi2: { name: 'sluice_drift_chi2', help: 'Chi-squared statistic of a categorical feature against its reference' },
  chi2_pvalue: { name: 'sluice_drift_chi2_pvalue', help: 'Chi-squared p-value of a categorical feature' },
};

export class DriftMetrics {
  readonly gauges = new Map<ScoreField, Gauge<FeatureLabels>>();
  readonly level: Gauge<FeatureLabels>;
  readonly rows: Gauge<'model' | 'version'>;
  readonly events: Counter<FeatureLabels | 'level'>;

  constructor(registry: Registry) {
    const registers = [registry];
    for (const [field, def] of Object.entries(DRIFT_GAUGES)) {
      this.gauges.set(field as ScoreField, new Gauge({ ...def, labelNames: ['model', 'version', 'feature'], registers }));
    }
    this.level = new Gauge({
      name: 'sluice_drift_level', help: 'Drift level of a feature: 0 ok, 1 warn, 2 alert (PSI against its thresholds)',
      labelNames: ['model', 'version', 'feature'], registers,
    });
    this.rows = new Gauge({
      name: 'sluice_drift_window_rows', help: 'Rows in the drift window the exported scores come from',
      labelNames: ['model', 'version'], registers,
    });
    this.events = new Counter({
      name: 'sluice_drift_events_total', help: 'Drift level changes (warn, alert, ok) per feature',
      labelNames: ['model', 'version', 'feature', 'level'], registers,
    });
  }

  /** Drop every series of a model version (it was unloaded). */
  remove(model: string, version: string, features: readonly string[]): void {
    for (const feature of features) {
      for (const g of this.gauges.values()) g.remove({ model, version, feature });
      this.level.remove({ model, version, feature });
    }
    this.rows.remove({ model, version });
  }
}
